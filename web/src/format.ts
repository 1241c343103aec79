// Statuses, durations and JSON as people read them.

export const ENDED = new Set(["FINISHED", "FAILED", "STOPPED"]);
export const EXECUTION_STATUSES = ["QUEUED", "RUNNING", "PAUSED", "STOPPED", "FAILED", "FINISHED"];
export const STATUS_LABELS: Record<string, string> = {
  QUEUED: "In queue", RUNNING: "In progress", PAUSED: "Paused", STOPPED: "Canceled",
  FAILED: "Error", FINISHED: "Executed",
  SCHEDULED: "Scheduled", STARTED: "Running", COMPLETED: "Completed",
  CANCEL_REQUESTED: "Cancel requested", CANCELLED: "Cancelled",
};

/** Seconds in a proto3 duration such as "1.070697344s". */
export function seconds(duration: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(duration ?? "");
  return match ? Number(match[1]) : 0;
}

export function humanDuration(duration: string | number | undefined): string {
  const total = typeof duration === "number" ? duration : seconds(duration);
  if (total < 1) return `${Math.round(total * 1000)}ms`;
  if (total < 60) return `${Number(total.toFixed(2))}s`;
  const minutes = Math.floor(total / 60);
  const rest = Math.floor(total % 60);
  if (minutes < 60) return `${minutes}m ${rest}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m ${rest}s`;
}

export function humanTime(ts: string | undefined): string {
  if (!ts) return "";
  const date = new Date(ts);
  return Number.isNaN(date.getTime()) ? ts : date.toLocaleString();
}

export function prettyJson(text: string | undefined): string {
  if (!text) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function errorText(error: { message?: string; errorCode?: string } | undefined): string {
  if (!error) return "";
  return error.errorCode ? `${error.errorCode}: ${error.message ?? ""}` : error.message ?? "";
}

/** Where JSON.parse failed, as "line L, column C: reason", or "" when the text is valid. */
export function jsonProblem(text: string): string {
  try {
    JSON.parse(text);
    return "";
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const position = /position (\d+)/.exec(message);
    if (!position) return message;
    const before = text.slice(0, Number(position[1])).split("\n");
    return `line ${before.length}, column ${before[before.length - 1].length + 1}: ${message}`;
  }
}
