// Small SVG charts for the console: time-series lines and time-positioned bars.
// Each draw call redraws the whole chart at the element's current size.

const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 8, right: 10, bottom: 20, left: 46 };

export function svgElement(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(name, value);
  }
  if (text !== undefined) element.textContent = text;
  return element;
}

export function compactNumber(value) {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e9) return `${trimZeros(value / 1e9)}G`;
  if (magnitude >= 1e6) return `${trimZeros(value / 1e6)}M`;
  if (magnitude >= 1e4) return `${trimZeros(value / 1e3)}k`;
  return trimZeros(value);
}

function trimZeros(value) {
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** Draws lines over [from, to]; series: [{label, color, points: [{t, v}]}]. */
export function drawLineChart(svg, { series, from, to, formatValue = compactNumber }) {
  const frame = prepare(svg);
  if (!frame) return;
  const maxValue = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v)));
  const y = drawValueAxis(frame, maxValue, formatValue);
  const x = drawTimeAxis(frame, from, to);
  series.forEach((s, index) => {
    const points = s.points.filter((p) => p.t >= from && p.t <= to);
    if (points.length === 0) return;
    const line = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    if (index === 0 && points.length > 1) {
      const base = y(0).toFixed(1);
      const area = `${line}L${x(points.at(-1).t).toFixed(1)},${base}L${x(points[0].t).toFixed(1)},${base}Z`;
      frame.plot.append(svgElement("path", { d: area, fill: s.color, "fill-opacity": 0.08 }));
    }
    frame.plot.append(svgElement("path", { d: line, fill: "none", stroke: s.color, "stroke-width": 1.6, "stroke-linejoin": "round" }));
  });
}

/** Draws one bar per window; bars: [{start, end, value, title}], positioned by time over [from, to]. */
export function drawBarChart(svg, { bars, from, to, formatValue = compactNumber, color = "#2f6fdb", emptyText = "no windows" }) {
  const frame = prepare(svg);
  if (!frame) return;
  const y = drawValueAxis(frame, Math.max(0, ...bars.map((b) => b.value)), formatValue);
  const x = drawTimeAxis(frame, from, to);
  if (bars.length === 0) {
    frame.plot.append(svgElement("text", { x: frame.width / 2, y: frame.height / 2, class: "chart-empty", "text-anchor": "middle" }, emptyText));
    return;
  }
  const starts = bars.map((b) => b.start).sort((a, b) => a - b);
  let slot = Math.min(...bars.map((b) => b.end - b.start));
  for (let i = 1; i < starts.length; i++) {
    if (starts[i] > starts[i - 1]) slot = Math.min(slot, starts[i] - starts[i - 1]);
  }
  const barWidth = Math.max(1, (x(from + slot) - x(from)) * 0.8);
  for (const bar of bars) {
    if (bar.start + slot < from || bar.start > to) continue;
    const left = Math.max(MARGIN.left, x(bar.start));
    const width = Math.max(1, Math.min(barWidth, x(to) - left)); // the current window runs past "to"
    const top = y(Math.max(0, bar.value));
    const rect = svgElement("rect", {
      x: left.toFixed(1), y: top.toFixed(1), width: width.toFixed(1), height: Math.max(0, y(0) - top).toFixed(1),
      fill: color, rx: barWidth > 4 ? 1.5 : 0, "data-bar": bar.start,
    });
    rect.append(svgElement("title", {}, bar.title));
    frame.plot.append(rect);
  }
}

function prepare(svg) {
  const { width, height } = svg.getBoundingClientRect();
  if (width < 60 || height < 40) return null;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const axes = svgElement("g", { class: "chart-axes" });
  const plot = svgElement("g");
  svg.append(axes, plot);
  return { svg, axes, plot, width, height, innerWidth: width - MARGIN.left - MARGIN.right, innerHeight: height - MARGIN.top - MARGIN.bottom };
}

function drawValueAxis(frame, maxValue, formatValue) {
  const step = niceStep(maxValue > 0 ? maxValue / 3 : 1 / 3);
  const top = Math.max(step, Math.ceil(maxValue / step) * step);
  const y = (value) => MARGIN.top + frame.innerHeight * (1 - value / top);
  for (let value = 0; value <= top + step / 2; value += step) {
    frame.axes.append(svgElement("line", { x1: MARGIN.left, x2: frame.width - MARGIN.right, y1: y(value), y2: y(value), class: value === 0 ? "chart-baseline" : "chart-grid" }));
    frame.axes.append(svgElement("text", { x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end" }, formatValue(value)));
  }
  return y;
}

function niceStep(rough) {
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

const SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
const TIME_STEPS = [5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE,
  15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY];

function drawTimeAxis(frame, from, to) {
  const span = Math.max(1, to - from);
  const x = (t) => MARGIN.left + frame.innerWidth * ((t - from) / span);
  const maxTicks = Math.max(2, Math.floor(frame.innerWidth / 80));
  const step = TIME_STEPS.find((s) => span / s <= maxTicks) ?? TIME_STEPS.at(-1);
  // Ticks fall on round local times (12:00, not 12:00 UTC shown as 13:00).
  const offset = -new Date(from).getTimezoneOffset() * MINUTE;
  for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) {
    if (x(t) > frame.width - 18) break; // its label would be cut at the edge
    frame.axes.append(svgElement("text", { x: x(t), y: frame.height - 5, "text-anchor": "middle" }, timeLabel(t, step)));
  }
  return x;
}

function timeLabel(time, step) {
  const date = new Date(time);
  if (step >= DAY) return date.toLocaleDateString([], { month: "short", day: "numeric" });
  const options = { hour: "2-digit", minute: "2-digit", hour12: false };
  if (step < MINUTE) options.second = "2-digit";
  return date.toLocaleTimeString([], options);
}
