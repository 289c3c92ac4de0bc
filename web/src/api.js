// The REST API (docs/api.md), as the pages use it, and the formatting they share.
import { h } from "./dom.js";

export const ECOSYSTEMS = [
  ["npm", "npm"],
  ["pypi", "PyPI"],
  ["crates", "crates.io"],
  ["maven", "Maven"],
  ["go", "Go"],
];
export const ecosystemLabel = (id) => (ECOSYSTEMS.find(([key]) => key === id) || [id, id])[1];

// {status, body, headers}; body is the parsed JSON, or null. Network failures throw.
export async function getJson(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { Accept: "application/json", ...(options.headers || {}) } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body, headers: response.headers };
}

export function errorMessage(result) {
  if (result.body && result.body.error) return result.body.error.message;
  return `the server answered ${result.status}`;
}

// A package name in a path: "/" and "@" stay (scoped npm names, Go modules), the rest is escaped.
export function encodeName(name) {
  return encodeURIComponent(name).replaceAll("%2F", "/").replaceAll("%40", "@");
}
export const packagePage = (ecosystem, name) => `/package/${ecosystem}/${encodeName(name)}`;
export const packageApi = (ecosystem, name) => `/v1/packages/${ecosystem}/${encodeName(name)}`;
export const osvPage = (id) => `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;

export function formatScore(value) {
  return typeof value === "number" ? value.toFixed(1) : "–";
}
// Higher is more trustworthy; the bands only colour the number.
export function scoreBand(value) {
  if (typeof value !== "number") return "none";
  if (value < 3) return "low";
  if (value < 6) return "mid";
  return "high";
}
export function scoreBadge(value) {
  return h("span", { class: `score-badge band-${scoreBand(value)}` }, formatScore(value));
}

export function formatEffect(effect) {
  const rounded = Math.round(effect * 10) / 10;
  if (rounded > 0) return `+${rounded.toFixed(1)}`;
  if (rounded < 0) return `\u2212${Math.abs(rounded).toFixed(1)}`;
  return "0.0";
}

export function formatDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 10);
}
export function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
export function formatCount(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "–";
}

export const FLAG_NAMES = {
  malicious: "malicious",
  has_malicious_versions: "malicious versions",
  typosquatting: "typosquatting",
  deprecated: "deprecated",
  archived: "archived",
  install_script_added: "install script added",
  dependency_confusion: "dependency confusion",
  repository_mismatch: "repository mismatch",
};
// The flags set, as badges.
export function flagBadges(flags) {
  const set = Object.keys(FLAG_NAMES).filter((key) => flags && flags[key] === true);
  return set.map((key) => h("span", { class: `flag flag-${key}` }, FLAG_NAMES[key]));
}
