// Stepping through the text: the step controls, the arrow keys, and play, which owns its timer (a
// counter makes the timers of an earlier play stop themselves, as playground's Player does). The step
// itself is the state's (`step`, −1 following the end); whether it plays is the page's.

import { STAGES, TIMING } from '../config.js';
import { Controls } from '../views/controls.js';

export function setupPlayer(page) {
  const { state } = page;
  const controls = page.view(Controls, 'controls');
  let playToken = 0; // bumping it stops the timers of an earlier play, which check it before acting

  const playInterval = () => TIMING.stepMs / state.values.speed;
  const animMs = () => Math.min(TIMING.maxStageMs * STAGES.length, playInterval() * TIMING.animShare);
  const steps = () => page.trace?.tokens.length ?? 0;

  function paintControls() {
    if (!controls) return;
    const doc = page.trace;
    const t = page.displayedStep();
    controls.setPosition(t, steps(), doc?.tokens[t]);
    controls.setPlaying(page.playing);
    controls.setSpeed(state.values.speed);
    controls.setLayers(doc?.model.layers ?? 1, page.layerOf());
    controls.draw();
  }

  // A step forward by one animates the cell's stages (the repaint takes the animation, page.js).
  function goTo(t, { animate = false } = {}) {
    const T = steps();
    if (!T) return;
    const clamped = Math.max(0, Math.min(T - 1, t));
    const next = clamped === T - 1 ? -1 : clamped;
    page.animateNext(animate && clamped === page.displayedStep() + 1 ? animMs() : 0);
    state.set({ step: next });
  }

  function play() {
    if (!page.trace) return;
    page.emit('play');
    page.setPlaying(true);
    const mine = ++playToken;
    if (page.displayedStep() >= steps() - 1) goTo(0);
    const tick = () => {
      if (mine !== playToken) return;
      const t = page.displayedStep();
      goTo(t + 1, { animate: true });
      // Stop on arriving at the last token, so the button says "play" as soon as there is nothing left.
      if (t + 1 >= steps() - 1) pause();
      else setTimeout(tick, playInterval());
    };
    setTimeout(tick, playInterval());
    paintControls();
  }

  function pause() {
    const was = page.playing;
    page.setPlaying(false);
    playToken += 1;
    paintControls();
    if (was) page.schedulePanels(0); // bring the per-step plots up to date
  }

  const toggle = () => (page.playing ? pause() : play());

  controls
    ?.on('prev', () => goTo(page.displayedStep() - 1))
    .on('next', () => goTo(page.displayedStep() + 1, { animate: true }))
    .on('reset', () => {
      pause();
      goTo(0);
    })
    .on('end', () => goTo(Infinity))
    .on('play', play)
    .on('pause', pause)
    .on('speed', (speed) => state.set({ speed }))
    .on('layer', (l) => state.set({ layer: l }));

  document.addEventListener('keydown', (ev) => {
    if (!page.keyForPage(ev)) return;
    const onButton = ev.target.closest?.('button, summary, [role="button"], a');
    switch (ev.key) {
      case 'ArrowLeft':
        goTo(page.displayedStep() - 1);
        break;
      case 'ArrowRight':
        goTo(page.displayedStep() + 1, { animate: true });
        break;
      case 'Home':
        goTo(0);
        break;
      case 'End':
        goTo(Infinity);
        break;
      case ' ':
        if (onButton) return; // space already presses the focused button
        toggle();
        break;
      default:
        return;
    }
    ev.preventDefault();
  });

  page.paints(paintControls);
  state.subscribe((changed) => changed.has('speed') && paintControls());
  return { goTo, play, pause, paintControls };
}
