// History entries as bars on a time axis, coloured by status, retries marked.

import type { HistoryEntry } from "./api";
import { s } from "./dom";
import { humanDuration, seconds } from "./format";

const ROW = 24;
const LABEL_W = 210;
const AXIS_H = 22;

export interface TimelineOptions {
  startedAt: string;
  endedAt: number | null; // ms; null while running (the axis ends now)
  selected?: string;
  onSelect?: (entry: HistoryEntry) => void;
  width: number;
}

export function drawTimeline(entries: HistoryEntry[], options: TimelineOptions): SVGSVGElement {
  const ordered = [...entries].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const t0 = Date.parse(options.startedAt);
  const ends = ordered.map((e) => endOf(e));
  const t1 = Math.max(options.endedAt ?? Date.now(), ...ends, t0 + 1);
  const width = Math.max(options.width, LABEL_W + 200);
  const plot = width - LABEL_W - 90;
  const x = (t: number): number => LABEL_W + ((t - t0) / (t1 - t0)) * plot;
  const height = AXIS_H + ordered.length * ROW + 6;
  const svg = s("svg", { class: "timeline", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "timeline" }) as SVGSVGElement;
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    svg.append(s("line", { x1: x(t), x2: x(t), y1: AXIS_H - 4, y2: height, class: "tick" }));
    svg.append(s("text", { x: x(t), y: 12, class: "tick-label", "text-anchor": i === 0 ? "start" : "middle" }, `+${humanDuration((t - t0) / 1000)}`));
  }
  ordered.forEach((entry, i) => {
    const y = AXIS_H + i * ROW;
    const depth = (entry.id.match(/\//g) ?? []).length;
    const start = Date.parse(entry.startedAt);
    const x0 = x(start);
    const w = Math.max(3, x(endOf(entry)) - x0);
    const attempts = Number(entry.attempts ?? "1");
    const row = s("g", {
      class: `bar-row status-${entry.status}${options.selected === `${entry.id}@${entry.startedAt}` ? " selected" : ""}`,
      "data-entry": entry.id, "data-status": entry.status, tabindex: 0, role: "button",
      "aria-label": `${entry.id}: ${entry.status}`,
    });
    row.append(s("rect", { x: 0, y, width, height: ROW, class: "row-bg" }));
    row.append(s("text", { x: 6 + depth * 12, y: y + 16, class: "bar-label" }, entry.id));
    row.append(s("rect", { x: x0, y: y + 5, width: w, height: ROW - 10, rx: 3, class: "bar" }));
    for (let a = 1; a < attempts; a++) {
      // Retries: the bar is split into one segment per attempt (times of attempts are not in the API).
      const xa = x0 + (w * a) / attempts;
      row.append(s("line", { x1: xa, x2: xa, y1: y + 4, y2: y + ROW - 4, class: "retry-mark" }));
    }
    const note = `${humanDuration(entry.duration ?? (endOf(entry) - start) / 1000)}${attempts > 1 ? ` · ${attempts} attempts` : ""}`;
    row.append(s("text", { x: x0 + w + 5, y: y + 16, class: "bar-note" }, note));
    const tip = [`${entry.id} (${entry.type ?? ""}): ${entry.status}`, note];
    if (entry.lastError) tip.push(`last error: ${entry.lastError.errorCode ?? ""} ${entry.lastError.message ?? ""}`);
    row.append(s("title", {}, tip.join("\n")));
    row.addEventListener("click", () => options.onSelect?.(entry));
    svg.append(row);
  });
  return svg;
}

function endOf(entry: HistoryEntry): number {
  const start = Date.parse(entry.startedAt);
  if (entry.status === "STARTED" || entry.status === "SCHEDULED") return Math.max(Date.now(), start);
  return start + seconds(entry.duration) * 1000;
}
