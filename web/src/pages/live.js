// Live: the change stream (GET /v1/changes, Server-Sent Events) as a table, newest first,
// with the API's filters. It starts with the last changes of the log (snapshot=false,
// tail) instead of the state of every package; after a dropped connection it resumes
// after the last offset it showed (EventSource sends Last-Event-ID; a refused reconnect is
// retried here with ?offset=), so no change is shown twice or missed.
import { ECOSYSTEMS, ecosystemLabel, flagBadges, formatTime, packagePage, scoreBadge } from "../api.js";
import { field, h, table } from "../dom.js";

const MAX_ROWS = 500;
const TAIL = 50;

export function renderLive(main, _params, query) {
  document.title = "Live changes · pkgtrust";
  const ecosystem = h("select", { id: "live-ecosystem" }, h("option", { value: "" }, "All ecosystems"),
    ECOSYSTEMS.map(([id, label]) => h("option", { value: id, selected: query.get("ecosystem") === id }, label)));
  const flagged = h("input", { id: "live-flagged", type: "checkbox", checked: query.get("flagged") === "true" });
  const above = h("input", { id: "live-above", type: "number", min: "0", max: "10", step: "0.1", inputmode: "decimal", value: query.get("score_above") || "" });
  const below = h("input", { id: "live-below", type: "number", min: "0", max: "10", step: "0.1", inputmode: "decimal", value: query.get("score_below") || "" });
  const prefix = h("input", { id: "live-prefix", type: "text", autocomplete: "off", spellcheck: "false", value: query.get("prefix") || "" });
  const status = h("p", { id: "live-status", class: "status", role: "status" }, "Connecting…");
  const rows = h("tbody", { id: "live-rows" });
  const form = h(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); connect(); } },
    field("Ecosystem", ecosystem),
    field("Name prefix", prefix),
    field("Score above", above),
    field("Score below", below),
    h("div", { class: "field checkbox" }, flagged, h("label", { for: "live-flagged" }, "Flagged only")),
    h("button", { type: "submit" }, "Apply"),
  );
  const tableEl = table("Changes, newest first", ["Time", "Package", "Event", "Score", "Flags"], [], { class: "live", scrollable: true });
  tableEl.querySelector("tbody").replaceWith(rows);
  main.append(
    h("h1", null, "Live changes"),
    h("p", { class: "lead" }, "Packages as their runs finish, re-scores and exposure alerts, as they happen."),
    form, status, tableEl,
  );

  let source = null;
  let retry = null;
  let lastOffset = null;
  let filterQuery = "";
  let stopped = false;

  const filters = () => {
    const params = new URLSearchParams();
    if (ecosystem.value) params.set("ecosystem", ecosystem.value);
    if (prefix.value.trim()) params.set("prefix", prefix.value.trim());
    if (above.value !== "") params.set("score_above", above.value);
    if (below.value !== "") params.set("score_below", below.value);
    if (flagged.checked) params.set("flagged", "true");
    return params;
  };

  const addRow = (event, data) => {
    const alert = event === "alert" ? data.alert : null;
    const what = alert ? `alert: ${alert.reason}${alert.detail ? ` (${alert.detail})` : ""}, ${alert.origins} origins` : data.state;
    rows.prepend(
      h("tr", { class: alert || (data.flags && Object.values(data.flags).includes(true)) ? "row-bad" : null, dataset: { offset: data.offset, name: data.name } },
        h("td", null, h("time", { datetime: data.at }, formatTime(data.at))),
        h("td", null, h("a", { href: packagePage(data.ecosystem, data.name) }, data.name), " ", h("span", { class: "eco" }, ecosystemLabel(data.ecosystem))),
        h("td", null, what),
        h("td", null, data.state === "complete" ? scoreBadge(data.score) : "–"),
        h("td", null, flagBadges(data.flags)),
      ),
    );
    while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
  };

  const onEvent = (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    if (typeof data.offset === "number") {
      if (lastOffset !== null && data.offset <= lastOffset) return;  // shown already
      lastOffset = data.offset;
    }
    addRow(event.type, data);
  };

  const open = (url) => {
    if (source) source.close();
    source = new EventSource(url);
    source.addEventListener("change", onEvent);
    source.addEventListener("alert", onEvent);
    source.addEventListener("snapshot_end", (event) => {
      const data = JSON.parse(event.data);
      if (lastOffset === null) lastOffset = data.offset;
      status.textContent = `Live. Showing changes after offset ${data.offset}.`;
    });
    source.addEventListener("reset", (event) => {
      const data = JSON.parse(event.data);
      status.textContent = `The stream started over: ${data.reason}`;
      lastOffset = null;
    });
    source.addEventListener("open", () => {
      if (lastOffset !== null) status.textContent = `Live (resumed after offset ${lastOffset}).`;
    });
    source.addEventListener("error", (event) => {
      if (stopped) return;
      if (event.data) {
        // The server's own `error` event (the store did not answer): it keeps the stream.
        try {
          status.textContent = `The server reports: ${JSON.parse(event.data).reason}`;
        } catch {}
        return;
      }
      if (source.readyState === EventSource.CLOSED) {
        // Refused (503 too many subscribers, say): try again from where the table is.
        status.textContent = "Disconnected; reconnecting…";
        clearTimeout(retry);
        retry = setTimeout(() => {
          const params = new URLSearchParams(filterQuery);
          if (lastOffset !== null) params.set("offset", String(lastOffset));
          else { params.set("snapshot", "false"); params.set("tail", String(TAIL)); }
          open(`/v1/changes?${params}`);
        }, 3000);
      } else {
        status.textContent = "Connection lost; reconnecting…";
      }
    });
  };

  function connect() {
    clearTimeout(retry);
    const params = filters();
    filterQuery = params.toString();
    const url = new URL(location.href);
    url.search = filterQuery;
    history.replaceState(null, "", url);
    rows.replaceChildren();
    lastOffset = null;
    status.textContent = "Connecting…";
    const streamParams = new URLSearchParams(params);
    streamParams.set("snapshot", "false");
    streamParams.set("tail", String(TAIL));
    open(`/v1/changes?${streamParams}`);
  }

  for (const control of [ecosystem, flagged]) control.addEventListener("change", connect);
  connect();
  return () => {
    stopped = true;
    clearTimeout(retry);
    if (source) source.close();
  };
}
