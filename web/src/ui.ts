// Pieces shared by the pages: status badges, JSON blocks, error boxes, the start dialog.

import { api, ApiError } from "./api";
import { h } from "./dom";
import { jsonProblem, STATUS_LABELS } from "./format";

export function badge(status: string): HTMLElement {
  return h(`span.badge.status-${status}`, { title: STATUS_LABELS[status] ?? status, dataset: { status } }, status);
}

export function jsonBlock(label: string, text: string, cls = ""): HTMLElement {
  return h(`section.json-block${cls ? "." + cls : ""}`, null, h("h4", null, label), h("pre", null, text || "—"));
}

export function errorBox(err: unknown): HTMLElement {
  const text = err instanceof ApiError ? err.toString() : String(err);
  return h("div.error-box", { role: "alert" }, text);
}

export function link(href: string, text: string, cls = ""): HTMLElement {
  return h(`a${cls ? "." + cls : ""}`, { href }, text);
}

/** A JSON input box with live validation and a Start button; calls onStarted with the id. */
export function startForm(workflowId: () => string, onStarted: (id: string) => void): HTMLElement {
  const input = h("textarea.json-input", { rows: 5, spellcheck: false, "aria-label": "execution input (JSON)", value: "{}" }) as HTMLTextAreaElement;
  const status = h("div.json-status");
  const button = h("button.primary", { type: "submit" }, "Start execution") as HTMLButtonElement;
  const problem = h("div.form-error", { role: "alert" });
  const check = (): void => {
    const text = input.value.trim() || "{}";
    const found = jsonProblem(text);
    status.textContent = found ? `Not valid JSON: ${found}` : "Valid JSON";
    status.className = `json-status ${found ? "invalid" : "valid"}`;
    button.disabled = Boolean(found) || !workflowId();
  };
  input.addEventListener("input", check);
  const form = h("form.start-form", {
    onsubmit: async (event: Event) => {
      event.preventDefault();
      check();
      if (button.disabled) return;
      button.disabled = true;
      problem.textContent = "";
      try {
        onStarted(await api.start(workflowId(), input.value.trim() || "{}"));
      } catch (err) {
        problem.textContent = err instanceof ApiError ? err.toString() : String(err);
      } finally {
        check();
      }
    },
  }, h("label", null, "Input (JSON)"), input, status, h("div.form-row", null, button), problem) as HTMLFormElement;
  queueMicrotask(check);
  (form as unknown as { recheck: () => void }).recheck = check;
  return form;
}
