// The console's entry: header, hash routes, one page at a time.

import { endpoint, setEndpoint } from "./api";
import { credentialsPanel } from "./credentials";
import { clear, h } from "./dom";
import { executionPage } from "./execution";
import { executionsPage } from "./executions";
import { workflowPage, workflowsPage } from "./workflows";

let dispose: () => void = () => undefined;

function route(): void {
  dispose();
  const main = document.getElementById("page") as HTMLElement;
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", (a as HTMLAnchorElement).hash.slice(2).split("/")[0] === (parts[0] ?? "executions").replace(/^execution$/, "executions").replace(/^workflow(-new)?$/, "workflows"));
  }
  if (parts[0] === "execution" && parts[1]) dispose = executionPage(main, decodeURIComponent(parts[1]));
  else if (parts[0] === "workflows") dispose = workflowsPage(main, params);
  else if (parts[0] === "workflow" && parts[1]) dispose = workflowPage(main, decodeURIComponent(parts[1]));
  else if (parts[0] === "workflow-new") dispose = workflowPage(main, null);
  else dispose = executionsPage(main, params);
}

function header(): void {
  const credentials = credentialsPanel(endpoint, route);
  const input = h("input", { value: endpoint(), "aria-label": "API endpoint", size: 28 }) as HTMLInputElement;
  input.addEventListener("change", () => {
    setEndpoint(input.value.trim());
    credentials.refresh();
    route();
  });
  clear(document.getElementById("header") as HTMLElement,
    h("a.brand", { href: "#/executions" }, "Stepline"),
    h("nav", null, h("a", { href: "#/executions" }, "Executions"), h("a", { href: "#/workflows" }, "Workflows")),
    h("label.endpoint", null, "API ", input),
    credentials.element);
}

header();
window.addEventListener("hashchange", route);
route();
