// The execution page's "Answer a task" panel: the answers to a waitForTask step (a Stepline
// extension, docs/signals.md). The API never shows a task token (it travels only in the step's
// notification), so the user pastes it; success sends an output JSON, failure an error code and
// message, a heartbeat restarts the step's heartbeat timeout.

import { api, type HistoryEntry } from "./api";
import { clear, h } from "./dom";
import { jsonProblem } from "./format";

const WAITING_TYPE = "waitfortask"; // a history entry's type, compared case-insensitively
// Codes a caller may answer with (the API takes any YaWL code but STEP_INTERNAL): the common ones.
const ERROR_CODES = [
  "STEP_FAIL", "STEP_FAILED_PRECONDITION", "STEP_INVALID_ARGUMENT", "STEP_PERMISSION_DENIED",
  "STEP_TIMEOUT", "STEP_QUOTA_EXCEEDED", "HTTP_CALL_400", "HTTP_CALL_404", "HTTP_CALL_500",
];
const SENT = {
  success: "Success sent: the waiting step goes on with this output.",
  failure: "Failure sent: the waiting step fails with this error (its retry policy and catch rules apply).",
  heartbeat: "Heartbeat sent: the task's heartbeat timeout starts again.",
} as const;

export interface TaskPanel {
  element: HTMLElement;
  /** Hidden once the execution has ended (or where no step can wait); highlighted while a
   *  waitForTask step waits. */
  update(hidden: boolean, entries: HistoryEntry[]): void;
}

/** `report` shows the API's answer (a notice or an error box) where the page shows its actions';
 *  `onAnswered` runs after an answer is taken (the page refreshes). */
export function taskPanel(report: (shown: HTMLElement | null, failed: unknown) => void, onAnswered: () => Promise<void>): TaskPanel {
  const token = h("input.task-token", { type: "password", "aria-label": "task token", autocomplete: "off", spellcheck: false, placeholder: "paste the token the step's notification carried" }) as HTMLInputElement;
  const output = h("textarea.json-input", { rows: 4, spellcheck: false, "aria-label": "task output (JSON)", value: "{}" }) as HTMLTextAreaElement;
  const outputStatus = h("div.json-status", { "aria-live": "polite" });
  const code = h("input", { "aria-label": "error code", value: "STEP_FAIL", list: "task-error-codes", autocomplete: "off", spellcheck: false, size: 26 }) as HTMLInputElement;
  const reason = h("input", { "aria-label": "error message", maxLength: 4096, autocomplete: "off", placeholder: "why the task failed" }) as HTMLInputElement;
  const problem = h("div.form-error", { role: "alert" });
  const hint = h("p.task-hint");
  const success = h("button.primary", { type: "button", title: "The waiting step completes with this output" }, "Send success") as HTMLButtonElement;
  const failure = h("button.danger", { type: "button", title: "The waiting step fails with this error" }, "Send failure") as HTMLButtonElement;
  const heartbeat = h("button", { type: "button", title: "Start the step's heartbeat timeout again" }, "Send heartbeat") as HTMLButtonElement;
  let sending = false;

  const outputText = (): string => output.value.trim() || "{}";
  const check = (): void => {
    const found = jsonProblem(outputText());
    outputStatus.textContent = found ? `Not valid JSON: ${found}` : "Valid JSON";
    outputStatus.className = `json-status ${found ? "invalid" : "valid"}`;
    success.disabled = sending || Boolean(found);
    failure.disabled = sending || !code.value.trim();
    heartbeat.disabled = sending;
  };
  output.addEventListener("input", check);
  code.addEventListener("input", check);

  const send = (verb: keyof typeof SENT, answer: (taskToken: string) => Promise<void>) => async (): Promise<void> => {
    const taskToken = token.value.trim();
    if (!taskToken) {
      problem.textContent = "Paste the task token first: the waiting step's notification carries it (the API never shows one).";
      return;
    }
    if (verb === "success" && jsonProblem(outputText())) {
      check();
      problem.textContent = "The output is not valid JSON: nothing was sent.";
      return;
    }
    problem.textContent = "";
    sending = true;
    check();
    try {
      await answer(taskToken);
      report(h("div.note", null, SENT[verb]), null);
    } catch (err) {
      report(null, err);
      return;
    } finally {
      sending = false;
      check();
    }
    await onAnswered();
  };
  success.addEventListener("click", send("success", (t) => api.sendTaskSuccess(t, outputText())));
  failure.addEventListener("click", send("failure", (t) => api.sendTaskFailure(t, code.value.trim(), reason.value)));
  heartbeat.addEventListener("click", send("heartbeat", (t) => api.sendTaskHeartbeat(t)));

  const element = h("section.panel.task-panel", { "aria-label": "answer a task", hidden: true },
    h("h3", null, "Answer a task"), hint,
    h("form.task-form", { onsubmit: (event: Event) => event.preventDefault() },
      h("label.task-token-label", null, "Task token", token),
      h("fieldset", null, h("legend", null, "Success"),
        h("label", null, "Output (JSON)", output), outputStatus, h("div.form-row", null, success)),
      h("fieldset", null, h("legend", null, "Failure"),
        h("label", null, "Error code", code),
        h("datalist", { id: "task-error-codes" }, ERROR_CODES.map((c) => h("option", { value: c }))),
        h("label", null, "Error message", reason), h("div.form-row", null, failure)),
      h("div.form-row.task-heartbeat", null, heartbeat,
        h("span.muted", null, "for a step with a heartbeatTimeout: the task is still being worked on")),
      problem));
  check();

  return {
    element,
    update(hidden: boolean, entries: HistoryEntry[]): void {
      element.hidden = hidden;
      const waiting = entries.filter((e) => e.status === "STARTED" && e.type?.toLowerCase() === WAITING_TYPE);
      element.classList.toggle("waiting", waiting.length > 0);
      clear(hint, waiting.length
        ? ["Waiting for an answer: ", waiting.map((e, i) => [i ? ", " : "", h("span.mono", null, e.id)])]
        : "No waitForTask step is waiting now: a token is taken only while its step waits.");
    },
  };
}
