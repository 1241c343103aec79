// Execution page: status, input, result or error, duration, actions, a waitForTask answer form,
// timeline, graph, details.

import { api, type Execution, type HistoryEntry } from "./api";
import { clear, h } from "./dom";
import { ENDED, errorText, humanDuration, humanTime, prettyJson, seconds, STATUS_LABELS } from "./format";
import { drawGraph, graphOf, nodeKey, runsByNode, type GraphScope } from "./graph";
import { taskPanel } from "./tasks";
import { drawTimeline } from "./timeline";
import { badge, errorBox, jsonBlock, link } from "./ui";

const REFRESH_MS = 700;
const OPEN_ENTRY = new Set(["SCHEDULED", "STARTED", "CANCEL_REQUESTED"]);
const ACTED = {
  stop: "Stop requested: the running step finishes first.",
  terminate: "Terminate requested.",
  pause: "Pause requested: the running step finishes, nothing new starts until you resume.",
  resume: "Resumed.",
  redrive: "Redriven: the failed and unfinished steps run again; finished ones keep their results.",
} as const;

export function executionPage(root: HTMLElement, executionId: string): () => void {
  let disposed = false;
  let timer = 0;
  let execution: Execution | null = null;
  let entries: HistoryEntry[] = [];
  let graph: GraphScope | null = null;
  let graphProblem = "";
  let asksForTasks: boolean | null = null;  // the spec has a waitForTask step (null: unread)
  let selectedKey = "";
  let selectedRun = -1; // index into the node's runs; -1 = latest

  const summary = h("section.summary");
  const actions = h("div.actions");
  const message = h("div.message");
  const timeline = h("section.panel.timeline-panel", null, h("h3", null, "Timeline"));
  const timelineBody = h("div.timeline-body");
  timeline.append(timelineBody);
  const graphBody = h("div.graph-body");
  const graphPanel = h("section.panel.graph-panel", null, h("h3", null, "Workflow graph"), graphBody);
  const details = h("aside.panel.step-details", { "aria-label": "step details" });
  // Answers to a waitForTask step: shown in the page's message like the actions' notes.
  const tasks = taskPanel((shown, failed) => clear(message, shown ?? errorBox(failed)), () => refresh());

  clear(root,
    h("div.page-head", null, h("h2", null, "Execution ", h("span.mono", null, executionId)), actions),
    message, summary, tasks.element,
    h("div.columns", null, h("div.main-col", null, graphPanel, timeline), details));

  const act = (verb: keyof typeof ACTED) => async (): Promise<void> => {
    try {
      await api[verb](executionId);
      clear(message, h("div.note", null, ACTED[verb]));
      await refresh();
    } catch (err) {
      clear(message, errorBox(err));
    }
  };

  const select = (key: string, run = -1): void => {
    selectedKey = key;
    selectedRun = run;
    render();
  };

  const render = (): void => {
    if (!execution) return;
    const ended = ENDED.has(execution.status);
    const paused = execution.status === "PAUSED";
    clear(actions,
      paused
        ? h("button.resume", { onclick: act("resume"), title: "Go on from where the execution paused" }, "Resume")
        : h("button.pause", { onclick: act("pause"), disabled: ended, title: "Let the running step finish, then start nothing new until resumed" }, "Pause"),
      h("button", { onclick: act("stop"), disabled: ended, title: "Let the running step finish, then stop" }, "Stop"),
      h("button.danger", { onclick: act("terminate"), disabled: ended, title: "Cancel the running step and stop" }, "Terminate"),
      h("button.redrive", {
        onclick: act("redrive"),
        disabled: execution.status !== "FAILED" && execution.status !== "STOPPED",
        title: "Go on from where it failed or stopped: finished steps are not run again",
      }, "Redrive"));
    clear(summary,
      h("dl.facts", null,
        h("dt", null, "Status"), h("dd", null, badge(execution.status), " ", h("span.muted", null, STATUS_LABELS[execution.status] ?? "")),
        h("dt", null, "Workflow"), h("dd", null, link(`#/workflow/${execution.workflowId}`, execution.workflowId, "mono"), " · ",
          link(`#/executions?workflow=${execution.workflowId}`, "all executions")),
        h("dt", null, "Started"), h("dd", null, humanTime(execution.startedAt)),
        h("dt", null, "Duration"), h("dd.duration", null, humanDuration(execution.duration))),
      h("div.io", null,
        jsonBlock("Input", prettyJson(execution.input?.inputJson), "input"),
        execution.result ? jsonBlock("Result", prettyJson(execution.result.resultJson), "result") : null,
        execution.error ? jsonBlock("Error", errorText(execution.error), "error") : null));
    tasks.update(ended || asksForTasks === false, entries);  // shown where a step may wait
    const endedAt = ended ? Date.parse(execution.startedAt) + seconds(execution.duration) * 1000 : null;
    const selectedEntry = currentRun();
    clear(timelineBody, entries.length
      ? drawTimeline(entries, {
        startedAt: execution.startedAt, endedAt, width: Math.max(timelineBody.clientWidth, 640),
        selected: selectedEntry ? `${selectedEntry.id}@${selectedEntry.startedAt}` : undefined,
        onSelect: (entry) => {
          const runs = runsByNode(entries).get(nodeKey(entry.id)) ?? [];
          select(nodeKey(entry.id), runs.indexOf(entry));
        },
      })
      : h("p.muted", null, execution.status === "QUEUED" ? "Waiting in the queue: no step has started yet." : "No history entries."));
    if (graph) {
      clear(graphBody, drawGraph(graph, { runs: runsByNode(entries), selected: selectedKey, onSelect: (key) => select(key) }),
        legend());
    } else if (graphProblem) {
      clear(graphBody, h("p.muted", null, `Cannot draw the graph: ${graphProblem}`));
    }
    renderDetails();
  };

  const currentRun = (): HistoryEntry | undefined => {
    const runs = runsByNode(entries).get(selectedKey) ?? [];
    return selectedRun >= 0 && selectedRun < runs.length ? runs[selectedRun] : runs[runs.length - 1];
  };

  const renderDetails = (): void => {
    if (!selectedKey) {
      clear(details, h("h3", null, "Step"), h("p.muted", null, "Click a step in the graph or the timeline to see its input, output, error and attempts."));
      return;
    }
    const runs = runsByNode(entries).get(selectedKey) ?? [];
    const entry = currentRun();
    if (!entry) {
      clear(details, h("h3", null, selectedKey), h("p.muted", null, "This step has not run."));
      return;
    }
    clear(details,
      h("h3", null, entry.id),
      h("dl.facts", null,
        h("dt", null, "Status"), h("dd", null, badge(entry.status)),
        h("dt", null, "Type"), h("dd", null, entry.type ?? ""),
        entry.title ? [h("dt", null, "Title"), h("dd", null, entry.title)] : null,
        h("dt", null, "Started"), h("dd", null, humanTime(entry.startedAt)),
        h("dt", null, "Duration"), h("dd", null, humanDuration(entry.duration)),
        h("dt", null, "Attempts"), h("dd.attempts", null, entry.attempts ?? "1")),
      runs.length > 1
        ? h("div.runs", null, "Runs: ", runs.map((run, i) => h(`button.run${run === entry ? ".current" : ""}`,
          { onclick: () => select(selectedKey, i), title: run.id }, `${i + 1}`)))
        : null,
      jsonBlock("Input", prettyJson(entry.input?.inputJson), "step-input"),
      jsonBlock("Output", prettyJson(entry.output?.outputJson), "step-output"),
      entry.error ? jsonBlock("Error", errorText(entry.error), "step-error error") : null,
      entry.lastError ? jsonBlock("Last error (retried)", errorText(entry.lastError), "step-last-error") : null);
  };

  const refresh = async (): Promise<void> => {
    window.clearTimeout(timer);
    try {
      // Get first, then the history: an execution seen ended has all its entries in the history
      // read after it (its log is written before its head), so refreshing can stop there.
      const got = await api.getExecution(executionId);
      const hist = await api.history(executionId);
      if (disposed) return;
      execution = got;
      entries = hist.entries;
      if (!graph && !graphProblem) {
        try {
          const specYaml = (await api.getWorkflow(got.workflowId)).specification.specYaml;
          asksForTasks = /\bwaitForTask\s*:/.test(specYaml);
          graph = graphOf(specYaml);
        } catch (err) {
          graphProblem = String(err instanceof Error ? err.message : err);
        }
      }
      render();
      // Entries may still close after the execution has ended (Stop lets the running step finish).
      const open = entries.some((e) => OPEN_ENTRY.has(e.status));
      if (!ENDED.has(got.status) || open) timer = window.setTimeout(refresh, REFRESH_MS);
    } catch (err) {
      clear(message, errorBox(err));
      if (!disposed) timer = window.setTimeout(refresh, REFRESH_MS * 4);
    }
  };
  void refresh();
  return () => {
    disposed = true;
    window.clearTimeout(timer);
  };
}

function legend(): HTMLElement {
  return h("div.legend", null, ["COMPLETED", "STARTED", "FAILED", "CANCELLED", "NOT_RUN"].map((st) =>
    h(`span.legend-item.status-${st}`, null, h("i"), st === "NOT_RUN" ? "not run" : st)),
  h("span.legend-item.edge-catch", null, h("i"), "catch"), h("span.legend-item.edge-default", null, h("i"), "default"));
}
