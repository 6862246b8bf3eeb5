// The explorer's figures of the main model: the cell diagram, the token strip, the next-token panel (or a
// classifier's / forecaster's reading, task-kinds.js), the unrolled network, and the memory and gradient
// plots, each painted from the page's frame; their clicks go into the state. The backward animation of the
// gradients panel keeps its own timer here. A change of what the page looks at repaints.

import { memoryOf, memoryScale } from '../archs.js';
import { TIMING } from '../config.js';
import { diagramFrame } from '../trace-doc.js';
import { CellDiagram } from '../views/cell-diagram.js';
import { GradientsPanel } from '../views/gradients.js';
import { MemoryPanels } from '../views/memory-panels.js';
import { Predictions } from '../views/predictions.js';
import { TokenStrip } from '../views/tokens.js';
import { Unrolled } from '../views/unrolled.js';
import { TaskKinds, attributionTint } from './task-kinds.js';

export function setupFigures(page, { attachDetail, baselineFor, player }) {
  const { state } = page;
  const views = {
    diagram: attachDetail(page.view(CellDiagram, 'diagram'), { zoom: true }),
    tokens: page.view(TokenStrip, 'tokens'),
    predictions: page.view(Predictions, 'predictions'),
    memory: page.view(MemoryPanels, 'memory'),
    gradients: page.view(GradientsPanel, 'gradients'),
    unrolled: page.view(Unrolled, 'unrolled'),
    // a classifier's reading or a forecaster's chart, in the "Next token" panel's place for those models
    kinds: page.$('predictions') ? new TaskKinds({ anchor: page.$('predictions'), targetInput: page.$('target-input') }) : null,
  };
  let lastDiagramKey = '';
  let backwardToken = 0; // bumping it stops the backward animation's timers

  function paintDiagram({ doc, t, l, scales, range, animateMs }) {
    const d = views.diagram;
    if (!d) return;
    const s = state.values;
    const units = (s.units ?? []).filter((j) => j < doc.model.hidden_size);
    const layerClamps = s.clamps.filter((c) => c.layer === l);
    // The same picture again (the `done` frame after the step frames, mostly): skip the diagram's redraw.
    const key = JSON.stringify([doc.id, t, l, range, s.theme, units, layerClamps]);
    if (key === lastDiagramKey && !animateMs) return;
    lastDiagramKey = key;
    d.setModel(doc.model.arch, doc.model.hidden_size);
    d.setScales(scales, range);
    d.setUnits(units);
    d.update(diagramFrame(doc, t, l, layerClamps), { animateMs });
    d.container.classList.remove('stale');
  }

  function paintTokens({ doc, t, l, scales }) {
    const v = views.tokens;
    if (!v) return;
    const s = state.values;
    const T = doc.tokens.length;
    v.setTokens(doc.tokens);
    v.setStep(t);
    const unit = (s.units ?? []).filter((j) => j < doc.model.hidden_size)[0];
    const arch = doc.model.arch;
    const tintOn = s.tint && unit !== undefined && doc.steps.length === T;
    // The memory's own vector on the memory's own scale, as the diagram draws it (archs.js).
    const key = memoryOf(arch);
    v.setTint(
      tintOn
        ? { unit, values: doc.steps.map((st) => st.layers[l][key][unit]), scale: scales[memoryScale(arch)] }
        : attributionTint(doc, s.theme),
    );
    v.draw();
  }

  function paintPredictions({ doc, t, step }) {
    if (!views.predictions) return;
    if (!step.top) {
      views.kinds?.update({ doc, t, baseline: baselineFor(doc) }); // a classifier or a forecaster
      return;
    }
    views.predictions.update({
      step,
      baseline: baselineFor(doc)?.steps[t] ?? null,
      isTarget: t === doc.tokens.length - 1 && Boolean(doc.target ?? state.values.target),
      isLast: t === doc.tokens.length - 1,
    });
  }

  function paintUnrolled({ doc, t, l }) {
    const v = views.unrolled;
    if (!v || doc.steps.length !== doc.tokens.length) return;
    if (v.tokens !== doc.tokens) {
      v.setTrace(
        doc.tokens,
        doc.steps.map((st) => st.expected?.p ?? null),
        doc.model.layers,
      );
    }
    v.setPosition(t, l);
    v.draw();
  }

  page.paints(paintDiagram);
  page.paints(paintTokens);
  page.paints(paintPredictions);
  page.paints(paintUnrolled);

  page.panels(
    ({ doc, t, l, scales, plotly, light }) => {
      const v = views.memory;
      if (!v || !page.panelsOpen().has('memory') || !plotly) return [];
      v.setPlotly(plotly);
      v.setTrace(doc, scales);
      v.setPosition(t, l);
      v.setUnits(state.values.units);
      v.setQuantity(state.values.heat);
      return v.parts({ light });
    },
    { wantsPlotly: () => Boolean(views.memory) && page.panelsOpen().has('memory') },
  );
  page.panels(
    ({ doc, t, l, scales, plotly, light }) => {
      const v = views.gradients;
      if (!v || !page.panelsOpen().has('gradients')) return [];
      v.setPlotly(plotly);
      v.setTrace(doc, scales);
      v.setPosition(t, l);
      return v.parts({ light });
    },
    { wantsPlotly: () => Boolean(views.gradients) && page.panelsOpen().has('gradients') },
  );

  function stopBackward() {
    backwardToken += 1;
    views.gradients?.setBackward(null);
  }

  function playBackward() {
    const v = views.gradients;
    if (!v || !page.trace?.done) return;
    player.pause();
    const mine = ++backwardToken;
    let k = v.shown ?? page.displayedStep();
    const hop = () => {
      if (mine !== backwardToken) return;
      v.setBackward(k);
      v.drawBackward();
      k -= 1;
      if (k >= 0) setTimeout(hop, TIMING.backwardMs);
    };
    hop();
  }

  // ---- views → state
  const goTo = (t) => player.goTo(t);
  views.tokens?.on('step', goTo);
  views.unrolled?.on('step', goTo).on('layer', (l) => state.set({ layer: l }));
  views.memory?.on('pick', ({ unit, step }) => {
    state.set({ units: [unit], step: step === (page.trace?.tokens.length ?? 0) - 1 ? -1 : step });
  });
  views.memory?.on('quantity', (q) => state.set({ heat: q }));
  views.gradients?.on('step', goTo).on('backward', playBackward);
  views.diagram
    ?.on('unit', ({ unit, additive }) => {
      const units = state.values.units ?? [];
      let next;
      if (units.includes(unit)) next = units.filter((u) => u !== unit);
      else next = additive ? [...units, unit] : [unit];
      state.set({ units: next });
    })
    .on('gate', (hit) => page.emit('gate', hit));

  // ---- page events
  page.on('play', stopBackward);
  page.on('baseline', () => page.trace && page.trace.steps[page.displayedStep()] && paintPredictions(page.frame()));
  page.on('error', () => views.diagram?.container.classList.add('stale'));
  page.on('tokens', (doc, t) => {
    if (!views.tokens) return;
    views.tokens.setTokens(doc.tokens);
    views.tokens.setStep(t);
    views.tokens.draw();
  });

  // ---- state → repaint
  const LOOKS = ['step', 'layer', 'units', 'theme', 'tint', 'heat', 'panels', 'large', 'present'];
  const showKind = () => views.kinds?.setModel(page.cards.get(state.values.model));
  showKind();
  state.subscribe((changed, values, source) => {
    if (changed.has('model')) showKind();
    // 'auto' changes (the first trace picking a unit) are painted by whoever made them.
    if (!LOOKS.some((k) => changed.has(k)) || !page.trace || source === 'auto') return;
    if (changed.has('step') || changed.has('layer')) stopBackward();
    const animation = page.takeAnimation();
    const animateMs = changed.has('step') && changed.size === 1 ? animation : 0;
    if (changed.has('theme') || changed.has('large') || changed.has('present')) {
      // Plot colours and sizes come from the CSS: let the new stylesheet apply first.
      requestAnimationFrame(() => page.repaint());
    } else {
      page.repaint({ animateMs });
    }
  });

  return { views };
}
