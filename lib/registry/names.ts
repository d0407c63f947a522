// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Kubernetes' name rules, applied to the names in incoming messages.
 *
 * Why: names become DNS names (`<svc>.<ns>.svc.cluster.local`) and registry keys
 * (`<ns>/<name>`). Without the rules two different objects answer the same DNS name — Service
 * `y.z/x` and `z/x.y` both make `x.y.z.svc.cluster.local`, `default/NGINX` and `default/nginx`
 * both make `nginx.default` (DNS is case-insensitive) — and names that no Kubernetes API server
 * would ever accept (`a_b`, `ngïnx`, 70 characters) reach the DNS zone. The rules are those of
 * `k8s.io/apimachinery/pkg/util/validation` and the API validation that uses them:
 *
 * | object                    | rule               | Kubernetes                                    |
 * | ------------------------- | ------------------ | --------------------------------------------- |
 * | Service                   | DNS-1035 label     | `ValidateServiceName` (`NameIsDNS1035Label`)  |
 * | namespace                 | DNS-1123 label     | `ValidateNamespaceName` (`NameIsDNSLabel`)    |
 * | Endpoints, podlist        | DNS-1035 label     | (their Service's name; see README)            |
 * | EndpointSlice, Pod, Node  | DNS-1123 subdomain | `ValidateEndpointSliceName`, `ValidatePodName`, `ValidateNodeName` (`NameIsDNSSubdomain`) |
 * | service/endpoint port     | DNS-1123 label     | `ValidateDNS1123Label` of `ports[].name`      |
 * | container port, targetPort| IANA_SVC_NAME      | `IsValidPortName`                             |
 * | endpoint/pod hostname     | DNS-1123 label     | `ValidateDNS1123Label` of `hostname`          |
 *
 * Pure, no state.
 * @module
 */
import type { ObjectKind } from "./kinds.ts";
import { describe, type Problems } from "./problems.ts";

/** Longest label (RFC 1035 §2.3.4, RFC 1123 §2.1): 63 characters. */
export const MAX_LABEL_LENGTH = 63;
/** Longest subdomain (Kubernetes `DNS1123SubdomainMaxLength`, RFC 1123 §2.1): 253 characters. */
export const MAX_SUBDOMAIN_LENGTH = 253;

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Kubernetes `IsDNS1035Label`: an RFC 1035 §2.3.1 label in lowercase — `[a-z]([-a-z0-9]*[a-z0-9])?`,
 * at most 63 characters. Service names follow it so that a name is always a valid first label
 * of `<svc>.<ns>.svc.<domain>` (it cannot start with a digit, contain a dot or differ only in case).
 */
export function isDns1035Label(s: string): boolean {
  return s.length <= MAX_LABEL_LENGTH && DNS1035_LABEL.test(s);
}

/**
 * Kubernetes `IsDNS1123Label`: an RFC 1123 §2.1 host-name label in lowercase (a leading digit is
 * allowed) — `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters. Namespaces follow it.
 */
export function isDns1123Label(s: string): boolean {
  return s.length <= MAX_LABEL_LENGTH && DNS1123_LABEL.test(s);
}

/**
 * Kubernetes `IsDNS1123Subdomain`: lowercase RFC 1123 labels separated by dots, at most 253
 * characters in all. Like Kubernetes, the length of each label is not limited separately (a Pod
 * named with a 64-character segment is valid there, so it is here).
 */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= MAX_SUBDOMAIN_LENGTH && DNS1123_SUBDOMAIN.test(s);
}

/**
 * Kubernetes `IsValidPortName`, `IANA_SVC_NAME` (RFC 6335 §5.1): at most 15 characters of
 * lowercase letters, digits and `-`, at least one letter, no leading/trailing or double `-`.
 * Named container ports and named `targetPort`s follow it, which is what lets one find the other.
 */
export function isIanaSvcName(s: string): boolean {
  return s.length <= 15 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s) && /[a-z]/.test(s) &&
    !s.includes("--");
}

/** The rules a name can be checked against (their Kubernetes names). */
export type NameRule = "DNS-1035 label" | "DNS-1123 label" | "DNS-1123 subdomain" | "IANA_SVC_NAME";

const RULES: Readonly<Record<NameRule, { test: (s: string) => boolean; explain: string }>> = {
  "DNS-1035 label": {
    test: isDns1035Label,
    explain:
      "lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, " +
      "at most 63 characters",
  },
  "DNS-1123 label": {
    test: isDns1123Label,
    explain:
      "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 " +
      "characters",
  },
  "DNS-1123 subdomain": {
    test: isDns1123Subdomain,
    explain: "lowercase letters, digits, '-' and '.', each dot-separated part starting and " +
      "ending with a letter or digit, at most 253 characters",
  },
  "IANA_SVC_NAME": {
    test: isIanaSvcName,
    explain: "lowercase letters, digits and '-', at least one letter, no '--', starting and " +
      "ending with a letter or digit, at most 15 characters",
  },
};

/**
 * The rule the name of each kind follows. Service: `ValidateServiceName`, a DNS-1035 label, as
 * it is the first label of the service's DNS names. EndpointSlice, Pod, Node:
 * `NameIsDNSSubdomain`, as Kubernetes validates them.
 *
 * Endpoints: Kubernetes validates the name as a DNS-1123 subdomain (`ValidateEndpointsName`),
 * but an Endpoints object only ever serves the Service of the same namespace and name (the
 * registry joins them by `<ns>/<name>`), so the name is held to the Service's rule: a name no
 * Service can have (`x.y`, `1abc`, `NGINX`) could never be joined and would only sit in the
 * state as an orphan; refusing it tells the sender at once and keeps one key space.
 */
export const NAME_RULES: Readonly<Record<ObjectKind, NameRule>> = {
  Service: "DNS-1035 label",
  Endpoints: "DNS-1035 label",
  EndpointSlice: "DNS-1123 subdomain",
  Pod: "DNS-1123 subdomain",
  Node: "DNS-1123 subdomain",
};

/** Namespaces: `ValidateNamespaceName` (`NameIsDNSLabel`), a DNS-1123 label (RFC 1123 §2.1). */
export const NAMESPACE_RULE: NameRule = "DNS-1123 label";

/** Whether `name` follows `rule`. */
export function followsRule(name: string, rule: NameRule): boolean {
  return RULES[rule].test(name);
}

/**
 * The problem text for a name that breaks `rule`, or null when it follows it:
 * `"NGINX" is not a valid DNS-1035 label (lowercase letters, digits and '-', …)`.
 */
export function nameProblem(name: string, rule: NameRule): string | null {
  if (RULES[rule].test(name)) return null;
  return `${describe(name)} is not a valid ${rule} (${RULES[rule].explain})`;
}

/** Adds a `RangeError` problem at `path` when `name` breaks `rule`; returns whether it follows it. */
export function checkName(name: string, rule: NameRule, path: string, p: Problems): boolean {
  const problem = nameProblem(name, rule);
  if (problem !== null) p.range(path, problem);
  return problem === null;
}
