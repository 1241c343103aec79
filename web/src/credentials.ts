// The header's Credentials panel: the AWS keys the console signs its requests with.

import { DEFAULT_REGION, DEV_KEY, type Credentials, setCredentials, signingFor, storedCredentials } from "./auth";
import { clear, h } from "./dom";

const FIELDS: [keyof Credentials, string, string][] = [
  ["accessKeyId", "access key id", "text"],
  ["secretAccessKey", "secret access key", "password"],
  ["sessionToken", "session token (optional)", "password"],
  ["region", "region", "text"],
];

/** The panel, and `refresh` to call when the endpoint changes; `onSaved` runs after a save. */
export function credentialsPanel(endpoint: () => string, onSaved: () => void): { element: HTMLElement; refresh: () => void } {
  const inputs = Object.fromEntries(FIELDS.map(([key, label, type]) => [key, h("input", {
    type, "aria-label": label, autocomplete: "off", spellcheck: false, placeholder: key === "region" ? DEFAULT_REGION : "",
  }) as HTMLInputElement])) as Record<keyof Credentials, HTMLInputElement>;
  const summary = h("summary");
  const fill = (): void => {
    const stored = storedCredentials();
    for (const [key] of FIELDS) inputs[key].value = stored[key];
  };
  const refresh = (): void => {
    const signing = signingFor(endpoint());
    summary.classList.toggle("needed", "problem" in signing);
    if ("problem" in signing) clear(summary, "Credentials needed");
    else clear(summary, `Signed as ${signing.credentials.accessKeyId}${signing.source === "dev stack" ? " (dev stack)" : ""}`);
    summary.title = "problem" in signing ? signing.problem : `SigV4, region ${signing.credentials.region}`;
  };
  const save = (): void => {
    setCredentials({
      accessKeyId: inputs.accessKeyId.value, secretAccessKey: inputs.secretAccessKey.value,
      sessionToken: inputs.sessionToken.value, region: inputs.region.value,
    });
    fill();
    refresh();
    details.open = false;
    onSaved();
  };
  const form = h("form.credentials-form", {
    onsubmit: (event: Event) => {
      event.preventDefault();
      save();
    },
  },
  FIELDS.map(([key, label]) => h("label", null, label, inputs[key])),
  h("p.hint", null, "Kept in this browser's localStorage. Left empty, requests to a dev stack on this machine are signed with its root key ",
    h("code", null, DEV_KEY.accessKeyId), "."),
  h("div.form-row", null,
    h("button.primary", { type: "submit" }, "Save"),
    h("button", { type: "button", onclick: () => { for (const [key] of FIELDS) inputs[key].value = ""; save(); } }, "Clear")));
  // Closed unsaved, the fields go back to what is kept: on close, as "toggle" fires late (typing may have begun).
  const details = h("details.credentials", { ontoggle: () => { if (!details.open) fill(); } }, summary, form) as HTMLDetailsElement;
  fill();
  refresh();
  return { element: details, refresh };
}
