// Workflows page: list; a workflow's spec with validation problems highlighted; create/update.

import { api, ApiError, type Workflow } from "./api";
import { clear, h } from "./dom";
import { humanTime } from "./format";
import { drawGraph, graphOf } from "./graph";
import { errorBox, link, startForm } from "./ui";

const NEW_SPEC = `yawl: "0.1"
start: hello
steps:
  hello:
    noOp:
      output: '\\({greeting: "Hello, \\(.name // "world")!"})'
      next: done
  done:
    success: {}
`;

export function workflowsPage(root: HTMLElement, params: URLSearchParams): () => void {
  const folder = params.get("folder") || "default";
  const body = h("tbody");
  const message = h("div.message");
  clear(root,
    h("div.page-head", null, h("h2", null, "Workflows ", h("span.muted", null, `folder ${folder}`)),
      h("div.actions", null, link("#/workflow-new", "New workflow", "button primary"))),
    h("table.list", null,
      h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Id"), h("th", null, "Created"), h("th", null, "Description"), h("th", null, ""))),
      body),
    message);
  void (async () => {
    try {
      const page = await api.listWorkflows(folder);
      clear(body, page.items.map((w) => h("tr", { dataset: { workflow: w.id } },
        h("td", null, link(`#/workflow/${w.id}`, w.name)),
        h("td.mono", null, w.id),
        h("td", null, humanTime(w.createdAt)),
        h("td", null, w.description ?? ""),
        h("td", null, link(`#/executions?workflow=${w.id}`, "executions")))));
      if (!page.items.length) clear(message, "No workflows in this folder yet.");
    } catch (err) {
      clear(message, errorBox(err));
    }
  })();
  return () => undefined;
}

/** Line numbers named in an API message: "line 3 col 5" or "line 3, column 5". */
export function problemLines(message: string): number[] {
  return [...message.matchAll(/line (\d+)(?:,)? col(?:umn)? \d+/g)].map((m) => Number(m[1]));
}

/** The problems in an INVALID_ARGUMENT message, one per item, without the field prefix. */
export function splitProblems(message: string): string[] {
  return message.replace(/^specification\.specYaml:\s*/, "").split(/\n|;\s+(?=line \d+)/).map((p) => p.trim()).filter(Boolean);
}

export function workflowPage(root: HTMLElement, workflowId: string | null): () => void {
  const name = h("input", { "aria-label": "name", required: true, placeholder: "my-workflow" }) as HTMLInputElement;
  const folder = h("input", { "aria-label": "folder", value: "default", disabled: Boolean(workflowId) }) as HTMLInputElement;
  const description = h("input", { "aria-label": "description", placeholder: "optional" }) as HTMLInputElement;
  const labels = h("input", { "aria-label": "labels", placeholder: "k=v, k2=v2" }) as HTMLInputElement;
  const spec = h("textarea.spec", { "aria-label": "specification", spellcheck: false, rows: 22, wrap: "off" }) as HTMLTextAreaElement;
  const gutter = h("div.gutter", { "aria-hidden": "true" });
  const problems = h("div.problems", { role: "alert" });
  const saved = h("div.note");
  const graphBody = h("div.graph-body");
  const save = h("button.primary", { type: "submit" }, workflowId ? "Save changes" : "Create workflow");
  let marked = new Set<number>();

  const paintGutter = (): void => {
    const count = spec.value.split("\n").length;
    clear(gutter, Array.from({ length: count }, (_, i) => h(`div${marked.has(i + 1) ? ".bad" : ""}`, null, String(i + 1))));
    gutter.scrollTop = spec.scrollTop;
  };
  const preview = (): void => {
    try {
      clear(graphBody, drawGraph(graphOf(spec.value), { runs: new Map() }));
    } catch (err) {
      clear(graphBody, h("p.muted", null, `Cannot draw the graph: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  const jumpTo = (line: number): void => {
    const lines = spec.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    spec.focus();
    spec.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  };
  const showProblem = (err: unknown): void => {
    if (err instanceof ApiError && err.code === 3) {
      const text = err.message;
      marked = new Set(problemLines(text));
      clear(problems, h("h4", null, "The API refused the workflow (INVALID_ARGUMENT)"),
        h("ul", null, splitProblems(text).map((line) => {
          const at = problemLines(line)[0];
          return h("li.problem", null, at ? h("button.linklike", { type: "button", onclick: () => jumpTo(at) }, line) : line);
        })));
    } else {
      marked = new Set();
      clear(problems, errorBox(err));
    }
    paintGutter();
  };

  spec.addEventListener("input", () => { marked = new Set(); paintGutter(); preview(); });
  spec.addEventListener("scroll", () => { gutter.scrollTop = spec.scrollTop; });

  const parseLabels = (): Record<string, string> => Object.fromEntries(
    labels.value.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
      const at = p.indexOf("=");
      return at < 0 ? [p, ""] : [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    }));

  const form = h("form.workflow-form", {
    onsubmit: async (event: Event) => {
      event.preventDefault();
      clear(problems);
      clear(saved);
      const fields = { name: name.value.trim(), description: description.value, labels: parseLabels(), specification: { specYaml: spec.value } };
      try {
        if (workflowId) {
          await api.updateWorkflow(workflowId, { ...fields, updateMask: "name,description,labels,specification" });
          clear(saved, "Saved.");
          marked = new Set();
          paintGutter();
        } else {
          const id = await api.createWorkflow({ ...fields, folderId: folder.value.trim() || "default" });
          location.hash = `#/workflow/${id}`;
        }
      } catch (err) {
        showProblem(err);
      }
    },
  },
  h("div.grid-form", null,
    h("label", null, "Name", name), h("label", null, "Folder", folder),
    h("label", null, "Description", description), h("label", null, "Labels", labels)),
  h("label", null, "Specification (YaWL)"),
  h("div.editor", null, gutter, spec),
  problems,
  h("div.form-row", null, save, saved));

  const side = h("aside.panel");
  clear(root,
    h("div.page-head", null, h("h2", null, workflowId ? "Workflow " : "New workflow", workflowId ? h("span.mono", null, workflowId) : null),
      workflowId ? h("div.actions", null, link(`#/executions?workflow=${workflowId}`, "Executions", "button")) : null),
    h("div.columns", null, h("div.main-col", null, form, h("section.panel", null, h("h3", null, "Graph"), graphBody)), side));

  if (workflowId) {
    clear(side, h("h3", null, "Start an execution"),
      startForm(() => workflowId, (id) => { location.hash = `#/execution/${id}`; }));
    void (async () => {
      try {
        const wf: Workflow = await api.getWorkflow(workflowId);
        name.value = wf.name;
        folder.value = wf.folderId;
        description.value = wf.description ?? "";
        labels.value = Object.entries(wf.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ");
        spec.value = wf.specification.specYaml;
        paintGutter();
        preview();
      } catch (err) {
        clear(problems, errorBox(err));
      }
    })();
  } else {
    clear(side, h("h3", null, "Tips"), h("p.muted", null, "The API checks the specification when you create or update; problems it names by line are marked in the editor."));
    spec.value = NEW_SPEC;
    paintGutter();
    preview();
  }
  return () => undefined;
}
