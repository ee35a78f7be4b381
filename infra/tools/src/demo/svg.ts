/** Just enough SVG charting for the demo's report: scales, axes, ticks, escaping. No dependencies. */

/** A map from data values to pixels. */
export interface Scale {
  (v: number): number;
  ticks(count?: number): number[];
  domain: [number, number];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
}

/** A linear scale from `domain` to `range`. */
export function linear(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain[0] === domain[1] ? [domain[0], domain[0] + 1] : domain;
  const f = ((v: number) => range[0] + ((v - d0) / (d1 - d0)) * (range[1] - range[0])) as Scale;
  f.domain = [d0, d1];
  f.ticks = (count = 5) => {
    const step = niceStep(d1 - d0, count);
    const out: number[] = [];
    for (let v = Math.ceil(d0 / step) * step; v <= d1 + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  };
  return f;
}

/** A log10 scale (domain > 0) from `domain` to `range`; ticks at 1, 2, 5 x powers of ten. */
export function log(domain: [number, number], range: [number, number]): Scale {
  const l0 = Math.log10(Math.max(domain[0], 1e-9));
  const l1 = Math.log10(Math.max(domain[1], domain[0] * 1.0001, 1e-9));
  const f = ((v: number) =>
    range[0] + ((Math.log10(Math.max(v, 1e-9)) - l0) / (l1 - l0)) * (range[1] - range[0])) as Scale;
  f.domain = [10 ** l0, 10 ** l1];
  f.ticks = () => {
    const out: number[] = [];
    for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= 10 ** l0 * 0.999 && v <= 10 ** l1 * 1.001) out.push(v);
      }
    }
    return out;
  };
  return f;
}

/** Escapes text for SVG/HTML. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number as a short tick label. */
export function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  if (a < 0.01) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** The plot area of a chart of `width` x `height` with margins. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export function frame(width: number, height: number, margin = { left: 60, right: 60, top: 28, bottom: 40 }): Frame {
  return {
    width,
    height,
    left: margin.left,
    right: width - margin.right,
    top: margin.top,
    bottom: height - margin.bottom,
  };
}

/** Axes with ticks and grid lines; `y2` draws a right-hand axis. */
export function axes(
  fr: Frame,
  x: Scale,
  y: Scale,
  labels: { x: string; y: string; title: string },
  y2?: { scale: Scale; label: string },
): string {
  const parts: string[] = [];
  parts.push(`<text x="${fr.left}" y="16" class="title">${esc(labels.title)}</text>`);
  for (const t of y.ticks(5)) {
    const py = y(t);
    parts.push(`<line x1="${fr.left}" x2="${fr.right}" y1="${py}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${fr.left - 6}" y="${py + 4}" text-anchor="end" class="tick">${fmt(t)}</text>`);
  }
  for (const t of x.ticks(8)) {
    const px = x(t);
    parts.push(`<line x1="${px}" x2="${px}" y1="${fr.bottom}" y2="${fr.bottom + 4}" class="axis"/>`);
    parts.push(`<text x="${px}" y="${fr.bottom + 16}" text-anchor="middle" class="tick">${fmt(t)}</text>`);
  }
  parts.push(`<line x1="${fr.left}" x2="${fr.right}" y1="${fr.bottom}" y2="${fr.bottom}" class="axis"/>`);
  parts.push(`<line x1="${fr.left}" x2="${fr.left}" y1="${fr.top}" y2="${fr.bottom}" class="axis"/>`);
  parts.push(
    `<text x="${(fr.left + fr.right) / 2}" y="${fr.height - 6}" text-anchor="middle" class="label">${esc(labels.x)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${(fr.top + fr.bottom) / 2}) rotate(-90)" text-anchor="middle" class="label">${esc(labels.y)}</text>`,
  );
  if (y2) {
    for (const t of y2.scale.ticks(5)) {
      parts.push(`<text x="${fr.right + 6}" y="${y2.scale(t) + 4}" class="tick">${fmt(t)}</text>`);
    }
    parts.push(`<line x1="${fr.right}" x2="${fr.right}" y1="${fr.top}" y2="${fr.bottom}" class="axis"/>`);
    parts.push(
      `<text transform="translate(${fr.width - 10} ${(fr.top + fr.bottom) / 2}) rotate(90)" text-anchor="middle" class="label">${esc(y2.label)}</text>`,
    );
  }
  return parts.join('');
}

/** A polyline through `points` (pixel coordinates); `step` draws a step function. */
export function path(points: [number, number][], cls: string, step = false): string {
  if (points.length === 0) return '';
  const d: string[] = [];
  points.forEach(([px, py], i) => {
    if (i === 0) d.push(`M${px.toFixed(1)},${py.toFixed(1)}`);
    else {
      if (step) d.push(`H${px.toFixed(1)}`);
      d.push(`${step ? 'V' : 'L'}${step ? py.toFixed(1) : `${px.toFixed(1)},${py.toFixed(1)}`}`);
    }
  });
  return `<path d="${d.join('')}" class="${cls}"/>`;
}

/** A legend row at (x, y): coloured swatches with their names. */
export function legend(x: number, y: number, items: { cls: string; name: string }[]): string {
  let cx = x;
  return items
    .map(({ cls, name }) => {
      const s = `<rect x="${cx}" y="${y - 9}" width="10" height="10" class="${cls}"/><text x="${cx + 14}" y="${y}" class="tick">${esc(name)}</text>`;
      cx += 22 + name.length * 6.2;
      return s;
    })
    .join('');
}
