// The public HTTP API (ExecutionService + WorkflowService), as the CLI uses it.

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
  3: "INVALID_ARGUMENT", 5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED", 13: "INTERNAL",
  14: "UNAVAILABLE", 16: "UNAUTHENTICATED",
};

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
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
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
  if (data && typeof data === "object" && "code" in data) {
    const err = data as { code: number; message?: string };
    throw new ApiError(Number(err.code), err.message ?? "");
  }
  throw new ApiError(2, `HTTP ${response.status}: ${text || response.statusText}`);
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
  async history(id: string): Promise<{ execution: ExecutionPreview; entries: HistoryEntry[] }> {
    const r = await call<{ execution: ExecutionPreview; entries?: HistoryEntry[] }>(
      "GET", `/execution/${encodeURIComponent(id)}/history`);
    return { execution: r.execution, entries: r.entries ?? [] };
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
};
