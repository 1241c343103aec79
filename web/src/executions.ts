// Executions page: pick a workflow, filter by status and time range, page, auto refresh.

import { api, type ExecutionPreview, type WorkflowPreview } from "./api";
import { clear, h } from "./dom";
import { ENDED, EXECUTION_STATUSES, humanDuration, humanTime } from "./format";
import { badge, errorBox, link, startForm } from "./ui";

const PAGE_SIZE = 20;
const REFRESH_MS = 1500;

export function executionsPage(root: HTMLElement, params: URLSearchParams): () => void {
  const folder = params.get("folder") || "default";
  const state = {
    workflowId: params.get("workflow") || "",
    status: params.get("status") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
    tokens: [""] as string[], // page tokens: tokens[i] opens page i
    page: 0,
  };
  let timer = 0;
  let disposed = false;

  const workflowSelect = h("select", { "aria-label": "workflow", id: "workflow-select" }) as HTMLSelectElement;
  const statusSelect = h("select", { "aria-label": "status" },
    h("option", { value: "" }, "any status"),
    EXECUTION_STATUSES.map((st) => h("option", { value: st, selected: st === state.status }, st))) as HTMLSelectElement;
  const fromInput = h("input", { type: "datetime-local", "aria-label": "started after", value: state.from, step: 1 }) as HTMLInputElement;
  const toInput = h("input", { type: "datetime-local", "aria-label": "started before", value: state.to, step: 1 }) as HTMLInputElement;
  const auto = h("input", { type: "checkbox", checked: true, id: "auto-refresh" }) as HTMLInputElement;
  const tableBody = h("tbody");
  const pager = h("div.pager");
  const message = h("div.message");
  const startPanel = h("div.start-panel", { hidden: true },
    startForm(() => state.workflowId, (id) => { location.hash = `#/execution/${id}`; }));

  const syncHash = (): void => {
    const q = new URLSearchParams();
    if (folder !== "default") q.set("folder", folder);
    for (const key of ["workflowId", "status", "from", "to"] as const) {
      if (state[key]) q.set(key === "workflowId" ? "workflow" : key, state[key]);
    }
    history.replaceState(null, "", `#/executions${q.toString() ? "?" + q : ""}`);
  };

  const filterText = (): string => {
    const parts: string[] = [];
    if (state.status) parts.push(`status=${state.status}`);
    if (state.from) parts.push(`started_at>${new Date(state.from).toISOString()}`);
    if (state.to) parts.push(`started_at<${new Date(state.to).toISOString()}`);
    return parts.join(" AND ");
  };

  const load = async (): Promise<void> => {
    window.clearTimeout(timer);
    if (!state.workflowId) {
      clear(tableBody);
      clear(message, "Pick a workflow to see its executions.");
      return;
    }
    try {
      const page = await api.listExecutions(state.workflowId, filterText(), PAGE_SIZE, state.tokens[state.page]);
      if (disposed) return;
      state.tokens[state.page + 1] = page.nextPageToken;
      renderRows(page.items);
      renderPager(page.nextPageToken);
      clear(message, page.items.length ? "" : "No executions match.");
      const running = page.items.some((e) => !ENDED.has(e.status));
      if (auto.checked && (running || state.page === 0)) timer = window.setTimeout(load, REFRESH_MS);
    } catch (err) {
      clear(message, errorBox(err));
    }
  };

  const renderRows = (items: ExecutionPreview[]): void => {
    clear(tableBody, items.map((e) => h("tr", { dataset: { execution: e.id } },
      h("td", null, link(`#/execution/${e.id}`, e.id, "mono")),
      h("td", null, badge(e.status)),
      h("td", null, humanTime(e.startedAt)),
      h("td", null, humanDuration(e.duration)))));
  };

  const renderPager = (next: string): void => {
    clear(pager,
      h("button", { disabled: state.page === 0, onclick: () => { state.page -= 1; void load(); } }, "← Newer"),
      h("span", null, `page ${state.page + 1}`),
      h("button", { disabled: !next, onclick: () => { state.page += 1; void load(); } }, "Older →"));
  };

  const restart = (): void => {
    state.tokens = [""];
    state.page = 0;
    syncHash();
    void load();
  };

  workflowSelect.addEventListener("change", () => {
    state.workflowId = workflowSelect.value;
    ((startPanel.firstChild as unknown) as { recheck: () => void }).recheck();
    restart();
  });
  statusSelect.addEventListener("change", () => { state.status = statusSelect.value; restart(); });
  fromInput.addEventListener("change", () => { state.from = fromInput.value; restart(); });
  toInput.addEventListener("change", () => { state.to = toInput.value; restart(); });
  auto.addEventListener("change", () => void load());

  clear(root,
    h("h2", null, "Executions"),
    h("div.toolbar", null,
      h("label", null, "Workflow ", workflowSelect),
      h("label", null, "Status ", statusSelect),
      h("label", null, "Started after ", fromInput),
      h("label", null, "before ", toInput),
      h("label.check", null, auto, " auto refresh"),
      h("button.primary", { onclick: () => { startPanel.hidden = !startPanel.hidden; } }, "Start…")),
    startPanel,
    h("table.list", null,
      h("thead", null, h("tr", null, h("th", null, "Execution"), h("th", null, "Status"), h("th", null, "Started"), h("th", null, "Duration"))),
      tableBody),
    message,
    pager);

  void (async () => {
    try {
      const workflows: WorkflowPreview[] = (await api.listWorkflows(folder)).items;
      if (disposed) return;
      if (!state.workflowId && workflows.length) state.workflowId = workflows[0].id;
      clear(workflowSelect,
        h("option", { value: "" }, "— pick a workflow —"),
        workflows.map((w) => h("option", { value: w.id, selected: w.id === state.workflowId }, `${w.name} (${w.id})`)));
      syncHash();
      ((startPanel.firstChild as unknown) as { recheck: () => void }).recheck();
      await load();
    } catch (err) {
      clear(message, errorBox(err));
    }
  })();

  return () => {
    disposed = true;
    window.clearTimeout(timer);
  };
}
