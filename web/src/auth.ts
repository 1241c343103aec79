// SigV4 signing of API requests, as API Gateway's AWS_IAM authorization asks, and the
// credentials it signs with: those entered in the header (kept in localStorage), else the dev
// stack's account root key when the endpoint is on this machine, else none (nothing is sent).

import { AwsClient } from "aws4fetch";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  region: string;
}

export const SERVICE = "execute-api";
export const DEFAULT_REGION = "us-east-1";
/** The dev stack's account root key (`stepline dev` accepts it as the root user). */
export const DEV_KEY = { accessKeyId: "stepline-dev", secretAccessKey: "stepline-dev" } as const;

const STORAGE_KEYS: Record<keyof Credentials, string> = {
  accessKeyId: "stepline.accessKeyId",
  secretAccessKey: "stepline.secretAccessKey",
  sessionToken: "stepline.sessionToken",
  region: "stepline.region",
};

/** The credentials as entered in the header; "" where a field is empty. */
export function storedCredentials(): Credentials {
  const read = (key: keyof Credentials): string => localStorage.getItem(STORAGE_KEYS[key]) ?? "";
  return { accessKeyId: read("accessKeyId"), secretAccessKey: read("secretAccessKey"), sessionToken: read("sessionToken"), region: read("region") };
}

/** Keep the entered credentials; empty fields (and the default region) are removed. */
export function setCredentials(entered: Credentials): void {
  for (const key of Object.keys(STORAGE_KEYS) as (keyof Credentials)[]) {
    const value = entered[key].trim();
    if (value && !(key === "region" && value === DEFAULT_REGION)) localStorage.setItem(STORAGE_KEYS[key], value);
    else localStorage.removeItem(STORAGE_KEYS[key]);
  }
}

/** True for an endpoint on this machine (127.0.0.0/8, ::1, localhost): the dev stack. */
export function isLoopback(endpointUrl: string): boolean {
  let host: string;
  try {
    host = new URL(endpointUrl).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export type Signing =
  | { credentials: Credentials; source: "entered" | "dev stack" }
  | { problem: string };

/** What requests to an endpoint are signed with, or why they cannot be signed. */
export function signingFor(endpointUrl: string): Signing {
  const stored = storedCredentials();
  const region = stored.region || DEFAULT_REGION;
  if (!globalThis.crypto?.subtle) {
    return { problem: "SigV4 signing needs WebCrypto, which the browser offers on https:// and localhost pages only: open the console over https" };
  }
  if (stored.accessKeyId && stored.secretAccessKey) return { credentials: { ...stored, region }, source: "entered" };
  if (stored.accessKeyId || stored.secretAccessKey || stored.sessionToken) {
    return { problem: "incomplete credentials: enter both an access key id and a secret access key under Credentials at the top of the page" };
  }
  if (isLoopback(endpointUrl)) return { credentials: { ...DEV_KEY, sessionToken: "", region }, source: "dev stack" };
  return { problem: `no credentials for ${endpointUrl}: enter an access key id and a secret access key under Credentials at the top of the page` };
}

const signingKeys = new Map<string, ArrayBuffer>(); // derived keys, by secret, day, region and service

/** The request, signed with SigV4 for API Gateway (`x-amz-date`, and the token when one is set). */
export function sign(url: URL, init: RequestInit, credentials: Credentials): Promise<Request> {
  const client = new AwsClient({
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken || undefined,
    service: SERVICE,
    region: credentials.region,
    cache: signingKeys,
  });
  return client.sign(url, init);
}
