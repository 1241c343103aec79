// The public HTTP API (ExecutionService + WorkflowService), as the CLI uses it: every request
// SigV4-signed (see auth.ts), as API Gateway's AWS_IAM authorization requires.

import { sign, signingFor } from "./auth";

export interface ExecutionPreview {
  id: string;
  workflowId: string;
  status: string;
  startedAt: string;
  duration: string;
}

export interface Execution extends ExecutionPreview {
  input?: { inputJson?: string };
  result?: { resultJson?: string };
  error?: { message?: string; errorCode?: string };
}

export interface HistoryEntry {
  id: string;
  title?: string;
  description?: string;
  startedAt: string;
  duration?: string;
  input?: { inputJson?: string };
  output?: { outputJson?: string };
  error?: { message?: string; errorCode?: string };
  status: string;
  type?: string;
  attempts?: string;
  lastError?: { message?: string; errorCode?: string };
}

export interface WorkflowPreview {
  id: string;
  folderId: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  createdAt: string;
  status: string;
}

export interface Workflow extends WorkflowPreview {
  specification: { specYaml: string };
}

const CODE_NAMES: Record<number, string> = {
  2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED", 13: "INTERNAL",
  12: "UNIMPLEMENTED", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED",
};
// The code of an answer API Gateway gives itself (`{"message": ...}`, no code), by HTTP status.
const HTTP_CODES: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 502: 14, 503: 14, 504: 4 };

export class ApiError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
  get codeName(): string {
    return CODE_NAMES[this.code] ?? String(this.code);
  }
  toString(): string {
    return `${this.codeName}: ${this.message}`;
  }
}

const ENDPOINT_KEY = "stepline.endpoint";

/** The API base URL: the page's own origin unless the user set another one. */
export function endpoint(): string {
  return localStorage.getItem(ENDPOINT_KEY) || location.origin;
}

export function setEndpoint(url: string): void {
  if (url && url !== location.origin) localStorage.setItem(ENDPOINT_KEY, url.replace(/\/+$/, ""));
  else localStorage.removeItem(ENDPOINT_KEY);
}

async function call<T>(method: string, path: string, query?: Record<string, string>, body?: unknown): Promise<T> {
  const url = new URL(`${endpoint()}/workflows/v1${path}`);
  for (const [key, value] of Object.entries(query ?? {})) if (value) url.searchParams.set(key, value);
  const signing = signingFor(endpoint());
  if ("problem" in signing) throw new ApiError(16, signing.problem);
  const request = await sign(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }, signing.credentials);
  let response: Response;
  try {
    response = await fetch(request);
  } catch (err) {
    throw new ApiError(14, `cannot reach ${endpoint()}: ${String(err)}`);
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = null;
  }
  if (response.ok && data && typeof data === "object") return data as T;
  throw answerError(response, data, text);
}

/** The ApiError of a failed answer: the API's `{code, message}`, or API Gateway's own refusal. */
function answerError(response: Response, data: unknown, text: string): ApiError {
  const answer = (data && typeof data === "object" ? data : {}) as { code?: unknown; message?: unknown; Message?: unknown };
  if (answer.code !== undefined) return new ApiError(Number(answer.code), String(answer.message ?? ""));
  const code = HTTP_CODES[response.status] ?? 2;
  const message = answer.message ?? answer.Message; // API Gateway's 403s: {"message"} or {"Message"}
  if (typeof message === "string" && message) return new ApiError(code, message);
  return new ApiError(code, `HTTP ${response.status}: ${text || response.statusText}`);
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export const api = {
  async listWorkflows(folderId: string, pageToken = ""): Promise<Page<WorkflowPreview>> {
    const r = await call<{ workflows?: WorkflowPreview[]; nextPageToken?: string }>(
      "GET", "/workflow", { folderId, pageToken, pageSize: "100" });
    return { items: r.workflows ?? [], nextPageToken: r.nextPageToken ?? "" };
  },
  async getWorkflow(id: string): Promise<Workflow> {
    return (await call<{ workflow: Workflow }>("GET", `/workflow/${encodeURIComponent(id)}`)).workflow;
  },
  async createWorkflow(body: Record<string, unknown>): Promise<string> {
    const op = await call<{ metadata: { workflowId: string } }>("POST", "/workflow", undefined, body);
    return op.metadata.workflowId;
  },
  async updateWorkflow(id: string, body: Record<string, unknown>): Promise<void> {
    await call("PATCH", `/workflow/${encodeURIComponent(id)}`, undefined, body);
  },
  async listExecutions(workflowId: string, filter: string, pageSize: number, pageToken: string): Promise<Page<ExecutionPreview>> {
    const r = await call<{ executions?: ExecutionPreview[]; nextPageToken?: string }>(
      "GET", "/execution", { workflowId, filter, pageSize: String(pageSize), pageToken });
    return { items: r.executions ?? [], nextPageToken: r.nextPageToken ?? "" };
  },
  async getExecution(id: string): Promise<Execution> {
    return (await call<{ execution: Execution }>("GET", `/execution/${encodeURIComponent(id)}`)).execution;
  },
  /** Every history entry: a response holding large steps ends early with a page token. */
  async history(id: string): Promise<{ execution: ExecutionPreview; entries: HistoryEntry[] }> {
    const entries: HistoryEntry[] = [];
    let pageToken = "";
    for (;;) {
      const r = await call<{ execution: ExecutionPreview; entries?: HistoryEntry[]; nextPageToken?: string }>(
        "GET", `/execution/${encodeURIComponent(id)}/history`, { pageToken });
      entries.push(...(r.entries ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) return { execution: r.execution, entries };
    }
  },
  async start(workflowId: string, inputJson: string): Promise<string> {
    const r = await call<{ executionId: string }>("POST", "/execution/start", undefined,
      { workflowId, input: { inputJson } });
    return r.executionId;
  },
  async stop(id: string): Promise<void> {
    await call("POST", `/execution/${encodeURIComponent(id)}/stop`);
  },
  async terminate(id: string): Promise<void> {
    await call("POST", `/execution/${encodeURIComponent(id)}/terminate`);
  },
  /** Pause and Resume: Stepline's custom methods on the execution (`…/{id}:pause`). */
  async pause(id: string): Promise<void> {
    await call("POST", `/execution/${encodeURIComponent(id)}:pause`);
  },
  async resume(id: string): Promise<void> {
    await call("POST", `/execution/${encodeURIComponent(id)}:resume`);
  },
  /** Redrive (Stepline's): a FAILED or STOPPED execution goes on from where it ended. */
  async redrive(id: string): Promise<void> {
    await call("POST", `/execution/${encodeURIComponent(id)}:redrive`);
  },
  /** Answers to a waitForTask step (Stepline's): custom methods on the execution collection.
   *  The token is the caller's to paste: the API never shows one. Each answers `{}`. */
  async sendTaskSuccess(taskToken: string, outputJson: string): Promise<void> {
    await call("POST", "/execution:sendTaskSuccess", undefined, { taskToken, outputJson });
  },
  async sendTaskFailure(taskToken: string, errorCode: string, message: string): Promise<void> {
    await call("POST", "/execution:sendTaskFailure", undefined, { taskToken, errorCode, message });
  },
  async sendTaskHeartbeat(taskToken: string): Promise<void> {
    await call("POST", "/execution:sendTaskHeartbeat", undefined, { taskToken });
  },
};
