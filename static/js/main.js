// The only module that knows every other: it makes the page (page.js: the configuration, the state, the
// trace on screen, the repaints) and hands it to each feature (features/*.js), each of which keeps its own
// state and timers and makes the views it has containers for. The order of the setups is the order in
// which the features hear of a change of state: the scene first, then the trace it asks for, the inputs,
// the repaint, and what follows from those (compare mode, the continuation).

import { useEngine, usePlotlyElement } from './api.js';
import { setupClamps, setupOfflineClamps } from './features/clamps.js';
import { setupCompare } from './features/compare.js';
import { setupContinuation } from './features/continuation.js';
import { setupDetailLevel } from './features/detail-level.js';
import { setupEmbedCommands } from './features/embed-commands.js';
import { setupErrors } from './features/errors.js';
import { setupFigures } from './features/figures.js';
import { setupInputs } from './features/inputs.js';
import { setupLocalForward } from './features/local-forward.js';
import { setupPair } from './features/pair.js';
import { setupPlayer } from './features/player.js';
import { setupPresentation } from './features/presentation.js';
import { setupScenes } from './features/scenes.js';
import { setupCompareTabs, setupOneLine, setupStage } from './features/stage.js';
import { setupTracing } from './features/tracing.js';
import { setupWriteMoment } from './features/write-moment.js';
import { LocalEngine } from './local-engine.js';
import { createPage } from './page.js';

const config = JSON.parse(document.getElementById('app-config').textContent);
// A page without a server (`lstm-explainer export`, `lstm-explainer site`) traces with the engine it carries.
if (config.engine) useEngine(new LocalEngine(config.engine));
if (config.offline?.plotlyElement) usePlotlyElement(config.offline.plotlyElement);

const page = createPage(config);
const { $ } = page;
const attachDetail = setupDetailLevel(page.state, { embed: config.embed });
const errors = setupErrors(page);
const player = setupPlayer(page);
const scenes = setupScenes(page, { player });
const tracing = setupTracing(page, errors, { local: setupLocalForward(page) });
const inputs = setupInputs(page, { errors });
const clamps = setupClamps(page, { errors, player });
const figures = setupFigures(page, { attachDetail, baselineFor: clamps.baselineFor, player });
setupPresentation(page, { diagram: figures.views.diagram });
setupOfflineClamps(page);
const compare = setupCompare(page, { attachDetail });
setupOneLine($('model-card'), 'the model card: click for all of it');
setupOneLine($('failed-models'), 'click for the whole message');
setupWriteMoment(page, { button: $('writers-button'), note: $('writers-note') });
setupPair(page, { container: $('pair'), button: $('pair-button') });
setupEmbedCommands(page, { player, scenes, compare, inputs });
setupContinuation(page, { compare });

const compareTabs = setupCompareTabs(document.querySelector('main > .stage'));
setupCompareTabs(document.querySelector('.embed-figures'), { inside: true });
setupStage(document.querySelector('main > .stage'), [
  compareTabs,
  document.querySelector('.topbar'),
  $('model-card'),
  $('failed-models'),
  $('scene-bar'),
  document.querySelector('.inputs'),
  document.querySelector('.reading'),
]);
if (page.values().scene) scenes.show().finally(() => !tracing.sentAny() && tracing.requestTrace());
else tracing.requestTrace();
