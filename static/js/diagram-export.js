// The diagram as a file: a standalone SVG (every colour and font the stylesheet gave it written onto the
// elements, the canvas strips turned into embedded PNG images) and a PNG drawn from that SVG at 2×.
// It renders the same outside the page: in a slide, an image viewer, Inkscape.

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';

// What the stylesheet decides about SVG content. Inherited ones are written only where they differ from
// the parent's, so the file stays small.
const INHERITED = [
  'fill',
  'fill-opacity',
  'fill-rule',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-dashoffset',
  'stroke-linecap',
  'stroke-linejoin',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'letter-spacing',
  'text-anchor',
  'dominant-baseline',
  'paint-order',
  'visibility',
  'marker-start',
  'marker-end',
];

// A computed url() may name the page ("http://host/?q#id"); in the file only the fragment means anything.
const localUrls = (v) => v.replace(/url\((["']?)[^"')]*(#[^"')]+)\1\)/g, 'url($2)');

function inlineStyles(source, clone, parentStyle) {
  const cs = getComputedStyle(source);
  if (cs.display === 'none') {
    clone.remove();
    return;
  }
  const decl = [];
  for (const p of INHERITED) {
    const v = cs.getPropertyValue(p);
    if (v && (!parentStyle || parentStyle.getPropertyValue(p) !== v)) decl.push(`${p}:${localUrls(v)}`);
  }
  if (cs.opacity !== '1') decl.push(`opacity:${cs.opacity}`);
  clone.removeAttribute('class');
  if (decl.length) clone.setAttribute('style', decl.join(';'));
  else clone.removeAttribute('style');
  const src = [...source.children];
  const dst = [...clone.children];
  src.forEach((child, k) => inlineStyles(child, dst[k], cs));
}

// Canvases (in foreignObject) become <image>s: an SVG viewer has no canvas, and many ignore foreignObject.
function canvasesToImages(source, clone) {
  const src = source.querySelectorAll('foreignObject');
  const dst = clone.querySelectorAll('foreignObject');
  src.forEach((fo, k) => {
    const canvas = fo.querySelector('canvas');
    const target = dst[k];
    if (!canvas || !target?.parentNode) {
      target?.remove();
      return;
    }
    const img = document.createElementNS(SVG_NS, 'image');
    for (const a of ['x', 'y', 'width', 'height']) img.setAttribute(a, fo.getAttribute(a) ?? '0');
    img.setAttribute('preserveAspectRatio', 'none');
    img.setAttribute('href', canvas.toDataURL('image/png'));
    target.replaceWith(img);
  });
}

// The standalone SVG document (a string) of `svgRoot`, on the background colour `background`.
export function diagramSvg(svgRoot, { background = null, title = 'LSTM Explainer diagram' } = {}) {
  const clone = svgRoot.cloneNode(true);
  inlineStyles(svgRoot, clone, null);
  canvasesToImages(svgRoot, clone);
  const [, , w, h] = (svgRoot.getAttribute('viewBox') ?? '0 0 800 600').split(/\s+/).map(Number);
  clone.setAttribute('xmlns', SVG_NS);
  clone.setAttribute('xmlns:xlink', XLINK_NS);
  clone.setAttribute('width', String(w));
  clone.setAttribute('height', String(h));
  clone.setAttribute('role', 'img');
  const t = document.createElementNS(SVG_NS, 'title');
  t.textContent = title;
  clone.prepend(t);
  if (background) {
    const bg = document.createElementNS(SVG_NS, 'rect');
    for (const [k, v] of Object.entries({ x: 0, y: 0, width: w, height: h, fill: background })) bg.setAttribute(k, v);
    t.after(bg);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}\n`;
}

// The PNG (a Blob) of an SVG document string, `scale` pixels per viewBox unit.
export async function svgToPng(svgText, { scale = 2 } = {}) {
  const url = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(img.naturalWidth * scale);
    canvas.height = Math.round(img.naturalHeight * scale);
    canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the PNG could not be made'))), 'image/png'),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

// Hand a Blob to the browser as a download called `name`.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
