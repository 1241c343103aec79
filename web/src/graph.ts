// The workflow graph: steps as nodes, next/catch/choice/default edges, Parallel branches and
// Foreach/While bodies as groups; each scope laid out by dagre, groups sized by their inside.

import dagre from "@dagrejs/dagre";
import { parse } from "yaml";
import type { HistoryEntry } from "./api";
import { s } from "./dom";

export interface GraphEdge {
  from: string;
  to: string;
  kind: "next" | "catch" | "choice" | "default";
  label?: string;
}

export interface GraphNode {
  key: string; // scope prefix + step id; matches history ids with [n] indexes removed
  id: string;
  kind: string;
  title?: string;
  groups: GraphScope[]; // Parallel: one per branch; Foreach/While: the body
}

export interface GraphScope {
  prefix: string;
  label: string;
  start: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const META_KEYS = new Set(["title", "description"]);
const KIND_NAMES: Record<string, string> = {
  noOp: "NoOp", switch: "Switch", foreach: "Foreach", parallel: "Parallel", success: "Success",
  fail: "Fail", wait: "Wait", while: "While", functionCall: "FunctionCall", httpCall: "HttpCall",
  grpcCall: "GrpcCall", containerCall: "ContainerCall", workflow: "Workflow",
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The graph of a YaWL document (throws when the YAML does not parse). */
export function graphOf(specYaml: string): GraphScope {
  const doc: unknown = parse(specYaml);
  if (!isObj(doc)) throw new Error("the specification is not a YAML mapping");
  return scopeOf(doc, "", "");
}

function scopeOf(block: Obj, prefix: string, label: string): GraphScope {
  const steps = isObj(block.steps) ? block.steps : {};
  const scope: GraphScope = { prefix, label, start: String(block.start ?? ""), nodes: [], edges: [] };
  for (const [id, raw] of Object.entries(steps)) {
    const step = isObj(raw) ? raw : {};
    const kind = Object.keys(step).find((k) => !META_KEYS.has(k)) ?? "?";
    const body = isObj(step[kind]) ? (step[kind] as Obj) : {};
    const key = prefix + id;
    const node: GraphNode = { key, id, kind: KIND_NAMES[kind] ?? kind, title: step.title as string | undefined, groups: [] };
    if (kind === "parallel" && isObj(body.branches)) {
      for (const [name, branch] of Object.entries(body.branches)) {
        if (isObj(branch)) node.groups.push(scopeOf(branch, `${key}/${name}/`, name));
      }
    } else if ((kind === "foreach" || kind === "while") && isObj(body.do)) {
      node.groups.push(scopeOf(body.do, `${key}/`, kind === "foreach" ? "for each item" : "while"));
    }
    scope.nodes.push(node);
    scope.edges.push(...edgesOf(key, prefix, body));
  }
  const known = new Set(scope.nodes.map((n) => n.key));
  scope.edges = scope.edges.filter((e) => known.has(e.to));
  return scope;
}

function edgesOf(key: string, prefix: string, body: Obj): GraphEdge[] {
  const edges: GraphEdge[] = [];
  if (typeof body.next === "string") edges.push({ from: key, to: prefix + body.next, kind: "next" });
  for (const choice of Array.isArray(body.choices) ? body.choices : []) {
    if (isObj(choice) && typeof choice.next === "string") {
      edges.push({ from: key, to: prefix + choice.next, kind: "choice", label: short(String(choice.condition ?? "")) });
    }
  }
  const fallback = isObj(body.default) ? body.default.next : body.default;
  if (typeof fallback === "string") edges.push({ from: key, to: prefix + fallback, kind: "default", label: "default" });
  for (const rule of Array.isArray(body.catch) ? body.catch : []) {
    if (isObj(rule) && typeof rule.next === "string") {
      const errors = Array.isArray(rule.errorList) ? rule.errorList.join(", ") : "";
      edges.push({ from: key, to: prefix + rule.next, kind: "catch", label: short(`catch ${errors}`.trim()) });
    }
  }
  return edges;
}

function short(text: string): string {
  return text.length > 28 ? `${text.slice(0, 27)}…` : text;
}

// --- status of each node -----------------------------------------------------------------

/** History id → graph key: "each[3]/step" → "each/step". */
export function nodeKey(entryId: string): string {
  return entryId.replace(/\[\d+\]/g, "");
}

/** Every run of each node, in history order. */
export function runsByNode(entries: HistoryEntry[]): Map<string, HistoryEntry[]> {
  const runs = new Map<string, HistoryEntry[]>();
  const ordered = [...entries].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  for (const entry of ordered) {
    const key = nodeKey(entry.id);
    runs.set(key, [...(runs.get(key) ?? []), entry]);
  }
  return runs;
}

// --- layout ------------------------------------------------------------------------------

const NODE_W = 168;
const NODE_H = 50;
const PAD = 14;
const HEADER = 26;

interface Box {
  width: number;
  height: number;
}

interface LaidScope extends Box {
  scope: GraphScope;
  nodes: Map<string, { x: number; y: number; w: number; h: number; inner: LaidScope[] }>;
  edges: { edge: GraphEdge; points: { x: number; y: number }[] }[];
  start: { x: number; y: number } | null;
}

function layoutScope(scope: GraphScope): LaidScope {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 42, edgesep: 14, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const inner = new Map<string, LaidScope[]>();
  for (const node of scope.nodes) {
    const groups = node.groups.map(layoutScope);
    inner.set(node.key, groups);
    const size = groupSize(groups);
    g.setNode(node.key, { width: size.width, height: size.height });
  }
  const startKey = `${scope.prefix}<start>`;
  if (scope.nodes.some((n) => n.key === scope.prefix + scope.start)) {
    g.setNode(startKey, { width: 14, height: 14 });
    g.setEdge(startKey, scope.prefix + scope.start, { width: 1, height: 1 }, "start");
  }
  scope.edges.forEach((edge, i) => {
    g.setEdge(edge.from, edge.to, { label: edge.label, width: edge.label ? edge.label.length * 6 : 0, height: edge.label ? 14 : 0, labelpos: "c" }, `e${i}`);
  });
  dagre.layout(g);
  const nodes: LaidScope["nodes"] = new Map();
  for (const node of scope.nodes) {
    const n = g.node(node.key);
    nodes.set(node.key, { x: n.x, y: n.y, w: n.width, h: n.height, inner: inner.get(node.key) ?? [] });
  }
  const edges = scope.edges.map((edge, i) => ({ edge, points: (g.edge({ v: edge.from, w: edge.to, name: `e${i}` }).points ?? []) as { x: number; y: number }[] }));
  const startNode = g.hasNode(startKey) ? g.node(startKey) : null;
  if (startNode) {
    edges.unshift({ edge: { from: startKey, to: scope.prefix + scope.start, kind: "next" }, points: g.edge({ v: startKey, w: scope.prefix + scope.start, name: "start" }).points as { x: number; y: number }[] });
  }
  const graph = g.graph();
  return {
    scope, nodes, edges, start: startNode ? { x: startNode.x, y: startNode.y } : null,
    width: Math.max(graph.width ?? 0, NODE_W), height: graph.height ?? NODE_H,
  };
}

function groupSize(groups: LaidScope[]): Box {
  if (!groups.length) return { width: NODE_W, height: NODE_H };
  const width = groups.reduce((sum, g) => sum + g.width + PAD, PAD);
  const height = Math.max(...groups.map((g) => g.height + HEADER)) + HEADER + PAD;
  return { width: Math.max(width, NODE_W), height };
}

// --- drawing -----------------------------------------------------------------------------

export interface DrawOptions {
  runs: Map<string, HistoryEntry[]>;
  selected?: string;
  onSelect?: (key: string) => void;
}

/** The graph as an SVG element. */
export function drawGraph(root: GraphScope, options: DrawOptions): SVGSVGElement {
  const laid = layoutScope(root);
  const svg = s("svg", {
    class: "graph", width: laid.width + 16, height: laid.height + 16,
    viewBox: `-8 -8 ${laid.width + 16} ${laid.height + 16}`, role: "img", "aria-label": "workflow graph",
  }) as SVGSVGElement;
  svg.append(s("defs", {},
    ...["next", "catch", "choice", "default"].map((kind) =>
      s("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: `arrowhead ${kind}` })))));
  svg.append(drawScope(laid, 0, 0, options));
  return svg;
}

function drawScope(laid: LaidScope, ox: number, oy: number, options: DrawOptions): SVGElement {
  const group = s("g", { transform: `translate(${ox},${oy})` });
  for (const { edge, points } of laid.edges) {
    if (!points.length) continue;
    const d = points.map((p, i) => `${i ? "L" : "M"} ${p.x} ${p.y}`).join(" ");
    group.append(s("path", { d, class: `edge ${edge.kind}`, "marker-end": `url(#arrow-${edge.kind})`, "data-from": edge.from, "data-to": edge.to }));
    if (edge.label) {
      const mid = points[Math.floor(points.length / 2)];
      group.append(s("text", { x: mid.x + 4, y: mid.y - 3, class: `edge-label ${edge.kind}` }, edge.label));
    }
  }
  if (laid.start) group.append(s("circle", { cx: laid.start.x, cy: laid.start.y, r: 6, class: "start-dot" }, s("title", {}, "start")));
  for (const node of laid.scope.nodes) {
    const box = laid.nodes.get(node.key);
    if (box) group.append(drawNode(node, box, options));
  }
  return group;
}

function drawNode(node: GraphNode, box: { x: number; y: number; w: number; h: number; inner: LaidScope[] }, options: DrawOptions): SVGElement {
  const runs = options.runs.get(node.key) ?? [];
  const latest = runs[runs.length - 1];
  const status = latest?.status ?? "NOT_RUN";
  const x = box.x - box.w / 2;
  const y = box.y - box.h / 2;
  const compound = node.groups.length > 0;
  const g = s("g", {
    class: `node ${compound ? "compound" : ""} status-${status}${options.selected === node.key ? " selected" : ""}`,
    "data-step": node.key, "data-status": status, tabindex: 0, role: "button",
    "aria-label": `${node.key}: ${status === "NOT_RUN" ? "not run" : status}`,
  });
  g.append(s("rect", { x, y, width: box.w, height: box.h, rx: compound ? 10 : 7, class: "node-box" }));
  const label = node.title ? `${node.id} · ${node.title}` : node.id;
  const textY = compound ? y + 17 : box.y - 4;
  g.append(s("text", { x: compound ? x + 10 : box.x, y: textY, class: "node-id", "text-anchor": compound ? "start" : "middle" }, clip(label, compound ? 40 : 22)));
  const statusText = status === "NOT_RUN" ? node.kind : `${node.kind} · ${status}${runs.length > 1 ? ` ×${runs.length}` : ""}`;
  g.append(s("text", { x: compound ? x + box.w - 10 : box.x, y: compound ? y + 17 : box.y + 13, class: "node-status", "text-anchor": compound ? "end" : "middle" }, statusText));
  if (latest && Number(latest.attempts ?? "1") > 1) {
    // Above the box's right corner (edges arrive at the top centre), or inside a group's foot.
    g.append(s("text", { x: x + box.w - 4, y: compound ? y + box.h - 6 : y - 4, class: "node-attempts", "text-anchor": "end" }, `${latest.attempts} attempts`));
  }
  g.append(s("title", {}, `${node.key} (${node.kind})${latest ? `: ${status}` : ": not run"}`));
  g.addEventListener("click", (event) => {
    event.stopPropagation();
    options.onSelect?.(node.key);
  });
  g.addEventListener("keydown", (event) => {
    if ((event as KeyboardEvent).key === "Enter") options.onSelect?.(node.key);
  });
  let gx = x + PAD;
  for (const inner of box.inner) {
    const gy = y + HEADER + 4;
    const frame = s("g", { class: "scope" });
    frame.append(s("rect", { x: gx - 6, y: gy, width: inner.width + 12, height: inner.height + HEADER - 4, rx: 8, class: "scope-box" }));
    frame.append(s("text", { x: gx, y: gy + 15, class: "scope-label" }, inner.scope.label));
    frame.append(drawScope(inner, gx, gy + HEADER - 6, options));
    g.append(frame);
    gx += inner.width + PAD;
  }
  return g;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
