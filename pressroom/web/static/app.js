/* Pressroom's web page. Everything it offers comes from
 * GET /api/extended-features/capabilities: each operation's body kind (file,
 * files or json), the MIME types it accepts and the JSON schema of its fields.
 * Text from the server is always set with textContent, never as markup. */
"use strict";

(function () {
  const RECENT_KEY = "pressroom.recent";
  const KEY_KEY = "pressroom.apiKey";
  const RECENT_MAX = 25;
  const TERMINAL = new Set(["completed", "failed", "cancelled"]);
  const TEXT_KEYS = ["text", "summary", "translated_text", "translation", "markdown", "content"];

  const $ = (id) => document.getElementById(id);
  const state = { operations: [], op: null, files: [], fields: [] };

  // -- small helpers ---------------------------------------------------------
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function humanName(name) {
    const words = String(name).replace(/_/g, " ").replace(/([a-z0-9])([A-Z])/g, "$1 $2");
    return words.charAt(0).toUpperCase() + words.slice(1).toLowerCase();
  }

  function size(bytes) {
    if (typeof bytes !== "number" || !isFinite(bytes)) return "?";
    const units = ["bytes", "KB", "MB", "GB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
  }

  function apiKey() { return localStorage.getItem(KEY_KEY) || ""; }

  class ApiError extends Error {
    constructor(status, body) {
      const error = body && body.error ? body.error : null;
      super(error && error.message ? error.message
        : status ? "The server answered HTTP " + status + "." : "The server could not be reached.");
      this.status = status;
      this.code = error && error.code ? error.code : (status ? "HTTP_" + status : "NETWORK_ERROR");
      this.details = error && error.details ? error.details : {};
    }
  }

  async function api(path, options) {
    const headers = { Accept: "application/json" };
    if (apiKey()) headers["X-API-Key"] = apiKey();
    let response;
    try {
      response = await fetch(path, Object.assign({}, options || {}, {
        headers: Object.assign(headers, (options && options.headers) || {}),
      }));
    } catch (err) {
      throw new ApiError(0, null);
    }
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    if (!response.ok) throw new ApiError(response.status, body);
    return { status: response.status, body: body || {} };
  }

  /** An error as plain words: its message, its code, and each problem in details. */
  function showError(box, err) {
    box.replaceChildren();
    box.hidden = false;
    box.append(el("p", {}, err.message));
    box.append(el("p", { class: "hint" }, "Error code: " + err.code));
    const items = [];
    for (const problem of (err.details && err.details.errors) || []) {
      items.push((problem.field ? humanName(problem.field) + ": " : "") + problem.problem);
    }
    for (const file of (err.details && err.details.files) || []) {
      if (file.error) items.push(file.filename + ": " + file.error.message + " (" + file.error.code + ")");
    }
    if (items.length) {
      const list = el("ul");
      for (const item of items) list.append(el("li", {}, item));
      box.append(list);
    }
  }

  // -- the form, built from an operation's JSON schema -------------------------
  /** The schema with $ref resolved and Optional[X] (anyOf X|null) unwrapped. */
  function resolve(schema, root) {
    if (!schema) return {};
    if (schema.$ref) {
      const name = schema.$ref.split("/").pop();
      const target = resolve(((root && root.$defs) || {})[name], root);
      const outer = Object.assign({}, schema);
      delete outer.$ref;
      return Object.assign({}, target, outer);
    }
    const variants = schema.anyOf || schema.oneOf;
    if (variants) {
      const real = variants.filter((v) => v.type !== "null");
      if (real.length === 1) {
        const outer = Object.assign({}, schema);
        delete outer.anyOf;
        delete outer.oneOf;
        return Object.assign({}, resolve(real[0], root), outer, { nullable: true });
      }
    }
    if (schema.allOf && schema.allOf.length === 1) {
      const outer = Object.assign({}, schema);
      delete outer.allOf;
      return Object.assign({}, resolve(schema.allOf[0], root), outer);
    }
    if (schema.contentMediaType === "application/json" && schema.contentSchema) {
      // a string holding JSON (pydantic's Json[Model]): offer its content's fields
      const inner = resolve(schema.contentSchema, root);
      return Object.assign({}, inner, { description: schema.description || inner.description });
    }
    return schema;
  }

  function kindOf(schema) {
    if (schema.enum || schema.const !== undefined) return "choice";
    if (schema.type === "boolean") return "boolean";
    if (schema.type === "integer" || schema.type === "number") return "number";
    if (schema.type === "object") return schema.properties ? "object" : "json";
    if (schema.type === "array") return schema.items && schema.items.enum ? "multi" : "list";
    return "string";
  }

  /** Renders one field into ``parent``; returns {name, read()} where read() gives the value or undefined. */
  function renderField(parent, name, rawSchema, root, path, required) {
    const schema = resolve(rawSchema, root);
    const kind = kindOf(schema);
    const id = "f-" + path.concat(name).join("-");
    const label = humanName(name) + (required ? " (required)" : "");
    const hintId = id + "-hint";
    const hint = schema.description ? el("p", { class: "hint", id: hintId }, schema.description) : null;
    const described = hint ? hintId : undefined;

    // a choice whose only value is null (a feature this server has off, e.g.
    // callback_url without webhooks) offers nothing to choose: no field
    if (kind === "choice" && (schema.enum || [schema.const]).every((v) => v === null)) {
      return { name, kind, read: () => undefined };
    }

    if (kind === "object") {
      const set = el("fieldset", hint ? { "aria-describedby": hintId } : {});
      set.append(el("legend", {}, label));
      if (hint) set.append(hint);
      const children = Object.entries(schema.properties).map(([child, sub]) =>
        renderField(set, child, sub, root, path.concat(name), (schema.required || []).includes(child)));
      parent.append(set);
      return {
        name, kind,
        read() {
          const value = {};
          for (const child of children) {
            const v = child.read();
            if (v !== undefined) value[child.name] = v;
          }
          return Object.keys(value).length ? value : undefined;
        },
      };
    }

    const wrap = el("div", { class: "field" });
    parent.append(wrap);
    if (kind === "boolean") {
      const box = el("input", { type: "checkbox", id, name, "aria-describedby": described });
      box.checked = schema.default === true;
      wrap.append(box, " ", el("label", { for: id, class: "inline" }, label));
      if (hint) wrap.append(hint);
      return { name, kind, read: () => (box.checked || schema.default === true ? box.checked : undefined) };
    }

    wrap.append(el("label", { for: id }, label));
    let input;
    if (kind === "choice" || kind === "multi") {
      const values = (kind === "multi" ? schema.items.enum : (schema.enum || [schema.const]))
        .filter((v) => v !== null);  // "not given" is the server default below
      input = el("select", { id, name, multiple: kind === "multi", required, "aria-describedby": described });
      if (kind === "choice" && (schema.default === undefined || schema.default === null) && !required) {
        input.append(el("option", { value: "" }, "(server default)"));
      }
      for (const value of values) {
        const option = el("option", { value: String(value) }, String(value));
        option.selected = schema.default === value
          || (Array.isArray(schema.default) && schema.default.includes(value));
        input.append(option);
      }
    } else if (kind === "number") {
      const min = schema.minimum !== undefined ? schema.minimum : schema.exclusiveMinimum;
      const max = schema.maximum !== undefined ? schema.maximum : schema.exclusiveMaximum;
      input = el("input", {
        type: "number", id, name, min, max, required, inputmode: schema.type === "integer" ? "numeric" : "decimal",
        step: schema.type === "integer" ? "1" : "any", "aria-describedby": described,
      });
      if (typeof schema.default === "number") input.value = String(schema.default);
    } else if (kind === "json" || (kind === "string" && (name === "text" || (schema.maxLength || 0) > 1000))) {
      input = el("textarea", { id, name, required, "aria-describedby": described, spellcheck: kind !== "json" });
      if (kind === "json") input.placeholder = "{ }";
      if (typeof schema.default === "string") input.value = schema.default;
    } else {
      const secret = /password|secret|key$/i.test(name);
      input = el("input", {
        type: secret ? "password" : "text", id, name, required, autocomplete: secret ? "off" : undefined,
        maxlength: schema.maxLength, "aria-describedby": described,
        placeholder: kind === "list" ? "comma-separated" : undefined,
      });
      if (typeof schema.default === "string") input.value = schema.default;
      if (kind === "list" && Array.isArray(schema.default)) input.value = schema.default.join(", ");
    }
    wrap.append(input);
    if (hint) wrap.append(hint);

    return {
      name, kind,
      read() {
        if (kind === "multi") {
          const chosen = Array.from(input.selectedOptions).map((o) => o.value);
          return chosen.length ? chosen : undefined;
        }
        const raw = input.value.trim();
        if (raw === "") return undefined;
        if (kind === "number") return Number(raw);
        if (kind === "list") return raw.split(",").map((s) => s.trim()).filter(Boolean);
        if (kind === "json") {
          try { return JSON.parse(raw); } catch (err) {
            throw new ApiError(0, { error: { code: "VALIDATION_ERROR",
              message: humanName(name) + " is not valid JSON: " + err.message, details: {} } });
          }
        }
        return raw;
      },
    };
  }

  function selectOperation(name) {
    const op = state.operations.find((o) => o.name === name) || state.operations[0];
    if (!op) return;
    state.op = op;
    $("operation-summary").textContent = op.summary + (op.available === false ? " Not available on this server now." : "");
    const fileBox = $("input-file");
    const input = $("file-input");
    fileBox.hidden = op.body === "json";
    input.accept = (op.accepts || []).join(",");
    input.multiple = true;
    $("file-label").textContent = op.body === "files" ? "Files (one job for all)" : "File";
    $("file-hint").textContent = op.body === "files"
      ? "Choose files, or drop them here: they go into one job."
      : "Choose a file, or drop one or many here: each file becomes its own job.";
    const holder = $("option-fields");
    holder.replaceChildren();
    const schema = op.fields || {};
    const required = schema.required || [];
    state.fields = Object.entries(schema.properties || {})
      .filter(([field]) => field !== "job_id")
      .map(([field, sub]) => renderField(holder, field, sub, schema, [], required.includes(field)));
    $("options").hidden = state.fields.length === 0;
  }

  function setFiles(list) {
    state.files = Array.from(list || []);
    const ul = $("file-list");
    ul.replaceChildren();
    for (const file of state.files) ul.append(el("li", {}, file.name + " (" + size(file.size) + ")"));
  }

  // -- submitting and following a job ---------------------------------------------
  function readFields() {
    const values = {};
    for (const field of state.fields) {
      const value = field.read();
      if (value !== undefined) values[field.name] = value;
    }
    return values;
  }

  function multipart(values, files, fileField) {
    const form = new FormData();
    for (const file of files) form.append(fileField, file, file.name);
    for (const [name, value] of Object.entries(values)) {
      // objects and lists travel as JSON text inside the form
      form.append(name, typeof value === "object" ? JSON.stringify(value) : String(value));
    }
    return form;
  }

  function newCard(title) {
    const card = $("job-card").content.firstElementChild.cloneNode(true);
    card.querySelector(".job-title").textContent = title;
    $("no-current").hidden = true;
    $("current").prepend(card);
    return card;
  }

  async function submit(event) {
    event.preventDefault();
    const op = state.op;
    const errorBox = $("form-error");
    errorBox.hidden = true;
    let values;
    try { values = readFields(); } catch (err) { showError(errorBox, err); return; }
    let requests;
    if (op.body === "json") {
      requests = [{ title: humanName(op.name), body: JSON.stringify(values),
        headers: { "Content-Type": "application/json" } }];
    } else if (!state.files.length) {
      showError(errorBox, new ApiError(0, { error: { code: "MISSING_FILE",
        message: "Choose a file first.", details: {} } }));
      $("file-input").focus();
      return;
    } else if (op.body === "files") {
      const names = state.files.map((f) => f.name).join(", ");
      requests = [{ title: humanName(op.name) + ": " + names, body: multipart(values, state.files, "files") }];
    } else {
      requests = state.files.map((file) => ({
        title: humanName(op.name) + ": " + file.name, body: multipart(values, [file], "file"),
      }));
    }
    const button = $("submit");
    button.disabled = true;
    try {
      for (const req of requests) {
        const card = newCard(req.title);
        try {
          const answer = await api(op.path, { method: "POST", body: req.body, headers: req.headers });
          const data = answer.body.data || {};
          if (op.queued && data.job_id) {
            remember({ id: data.job_id, operation: op.name, title: req.title, status: data.status });
            render(card, data);
            const refused = (data.files || []).filter((f) => f.error);
            if (refused.length) {
              const box = card.querySelector(".job-error");
              box.hidden = false;
              box.replaceChildren(el("p", {}, refused.length + " of " + data.files.length
                + " files were refused; the others go on."));
              const list = el("ul");
              for (const f of refused) {
                list.append(el("li", {}, f.filename + ": " + f.error.message + " (" + f.error.code + ")"));
              }
              box.append(list);
            }
            follow(data.job_id, card);
          } else {
            renderInstant(card, data);
          }
        } catch (err) {
          card.querySelector("progress").hidden = true;
          card.querySelector(".job-progress").textContent = "Not accepted.";
          showError(card.querySelector(".job-error"), err);
        }
      }
    } finally {
      button.disabled = false;
    }
  }

  function follow(jobId, card) {
    if (!window.EventSource || apiKey()) { poll(jobId, card); return; }
    const stream = new EventSource("/api/jobs/" + encodeURIComponent(jobId) + "/events");
    let finished = false;
    stream.addEventListener("progress", (e) => render(card, JSON.parse(e.data)));
    stream.addEventListener("end", (e) => {
      finished = true;
      stream.close();
      render(card, JSON.parse(e.data));
    });
    stream.addEventListener("error", () => {
      if (finished) return;
      stream.close();
      poll(jobId, card); // no event stream (proxy, lost connection): ask every second
    });
  }

  async function poll(jobId, card) {
    let failures = 0;
    for (;;) {
      try {
        const answer = await api("/api/jobs/" + encodeURIComponent(jobId));
        failures = 0;
        render(card, answer.body.data);
        if (TERMINAL.has(answer.body.data.status)) return;
      } catch (err) {
        failures += 1;
        if (err.status === 404 || failures > 5) { showError(card.querySelector(".job-error"), err); return; }
      }
      await new Promise((resolveLater) => setTimeout(resolveLater, 1000));
    }
  }

  function summaryOf(result) {
    if (!result) return "Done.";
    if (result.totals) {
      const t = result.totals;
      let text = t.completed + " of " + t.files + " files compressed";
      if (typeof t.original_size === "number" && typeof t.compressed_size === "number") {
        text += ": " + size(t.original_size) + " to " + size(t.compressed_size)
          + " (" + (t.compression_ratio || 0) + " % saved)";
      }
      return text + ".";
    }
    if (typeof result.original_size === "number" && typeof result.compressed_size === "number") {
      if (result.returned_original) {
        return "Already as small as it gets: the original (" + size(result.original_size) + ") is returned.";
      }
      const saved = result.original_size - result.compressed_size;
      const ratio = typeof result.compression_ratio === "number" ? result.compression_ratio
        : Math.round((1000 * saved) / result.original_size) / 10;
      return size(result.original_size) + " to " + size(result.compressed_size)
        + ": " + size(saved) + " saved (" + ratio + " %).";
    }
    if (result.file) return "Ready: " + result.file.filename + " (" + size(result.file.size) + ").";
    return "Done.";
  }

  /** The text an operation produced, or the result itself as JSON when it is data. */
  function textOf(result) {
    if (!result) return "";
    if (Array.isArray(result.files)) {
      return result.files.map((f) => f.filename + ": " + (f.error
        ? "failed, " + f.error.message + " (" + f.error.code + ")"
        : (typeof f.compression_ratio === "number" ? f.compression_ratio + " % saved" : f.status)))
        .join("\n");
    }
    for (const key of TEXT_KEYS) {
      if (typeof result[key] === "string" && result[key]) return result[key];
    }
    if (result.file || typeof result.original_size === "number") return "";
    return JSON.stringify(result, null, 2);
  }

  function render(card, view) {
    const pct = (view.progress && view.progress.percentage) || 0;
    const bar = card.querySelector("progress");
    bar.hidden = false;
    bar.value = pct;
    bar.setAttribute("aria-label", "Progress " + pct + " %");
    const words = (view.progress && (view.progress.message || view.progress.stage)) || "";
    card.querySelector(".job-progress").textContent =
      humanName(view.status) + ", " + pct + " %" + (words ? ": " + words : "");
    card.dataset.status = view.status;
    card.dataset.jobId = view.job_id;
    update(view);
    if (view.status === "failed" || view.status === "cancelled") {
      const err = view.error || { code: view.status.toUpperCase(), message: "The job " + view.status + "." };
      showError(card.querySelector(".job-error"), new ApiError(0, { error: err }));
    }
    if (view.status === "completed") {
      const box = card.querySelector(".job-result");
      box.hidden = false;
      card.querySelector(".job-summary").textContent = summaryOf(view.result);
      const link = card.querySelector(".job-download");
      if (view.download_url) {
        const name = view.result && view.result.file ? view.result.file.filename : "result";
        setDownload(link, view.download_url, name);
        link.textContent = "Download " + name;
        link.hidden = false;
      }
      const text = textOf(view.result);
      const pre = card.querySelector(".job-text");
      pre.textContent = text;
      pre.hidden = !text;
    }
  }

  function renderInstant(card, data) {
    card.querySelector("progress").value = 100;
    card.querySelector(".job-progress").textContent = "Answered at once (no job).";
    card.querySelector(".job-result").hidden = false;
    let summary = "Done.";
    if (data.levels && typeof data.original_size === "number") {
      const parts = Object.entries(data.levels).map(([level, est]) =>
        level + " " + size(est.estimated_size) + " (" + est.estimated_ratio + " % saved)");
      summary = size(data.original_size) + " now; estimated: " + parts.join(", ") + ".";
    }
    card.querySelector(".job-summary").textContent = summary;
    const pre = card.querySelector(".job-text");
    pre.textContent = textOf(data) || JSON.stringify(data, null, 2);
    pre.hidden = false;
  }

  /** A download link; with an API key the file is fetched with its header first. */
  function setDownload(link, url, name) {
    link.href = url;
    link.setAttribute("download", name);
    link.onclick = async (event) => {
      if (!apiKey()) return;
      event.preventDefault();
      const response = await fetch(url, { headers: { "X-API-Key": apiKey() } });
      if (!response.ok) return;
      const blobUrl = URL.createObjectURL(await response.blob());
      const temp = el("a", { href: blobUrl, download: name });
      document.body.append(temp);
      temp.click();
      temp.remove();
      setTimeout(() => URL.revokeObjectURL(blobUrl), 10000);
    };
  }

  // -- this browser's recent jobs ------------------------------------------------
  function recent() {
    try { return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch (err) { return []; }
  }

  function saveRecent(list) {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX)));
    drawRecent();
  }

  function remember(entry) {
    const list = recent().filter((j) => j.id !== entry.id);
    entry.created = new Date().toISOString();
    list.unshift(entry);
    saveRecent(list);
  }

  function update(view) {
    const list = recent();
    const entry = list.find((j) => j.id === view.job_id);
    if (!entry) return;
    entry.status = view.status;
    entry.percentage = view.progress ? view.progress.percentage : null;
    entry.download_url = view.download_url || null;
    entry.filename = view.result && view.result.file ? view.result.file.filename : null;
    entry.error = view.error ? view.error.code : null;
    saveRecent(list);
  }

  function drawRecent() {
    const list = recent();
    const body = $("recent").querySelector("tbody");
    body.replaceChildren();
    $("no-recent").hidden = list.length > 0;
    $("recent").hidden = list.length === 0;
    for (const job of list) {
      const row = el("tr", { "data-job-id": job.id });
      const idCell = el("td", { title: job.id }, (job.title || job.id));
      const statusCell = el("td", { class: "status-" + job.status },
        humanName(job.status || "unknown") + (job.status === "processing" || job.status === "pending"
          ? " " + (job.percentage || 0) + " %" : ""));
      const resultCell = el("td");
      if (job.download_url) {
        const link = el("a", {}, "Download");
        setDownload(link, job.download_url, job.filename || "result");
        resultCell.append(link);
      } else if (job.error) {
        resultCell.textContent = job.error;
      }
      row.append(idCell, el("td", {}, humanName(job.operation || "")), statusCell, resultCell);
      body.append(row);
    }
  }

  async function refreshRecent() {
    const list = recent();
    for (const entry of list) {
      try {
        const answer = await api("/api/jobs/" + encodeURIComponent(entry.id));
        const view = answer.body.data;
        Object.assign(entry, {
          status: view.status,
          percentage: view.progress ? view.progress.percentage : null,
          download_url: view.download_url || null,
          filename: view.result && view.result.file ? view.result.file.filename : null,
          error: view.error ? view.error.code : null,
        });
      } catch (err) {
        if (err.status === 404) Object.assign(entry, { status: "gone", download_url: null, error: err.code });
      }
    }
    saveRecent(list);
  }

  // -- start -------------------------------------------------------------------------
  async function start() {
    $("api-key").value = apiKey();
    $("api-key").addEventListener("change", (e) => {
      const value = e.target.value.trim();
      if (value) localStorage.setItem(KEY_KEY, value); else localStorage.removeItem(KEY_KEY);
    });
    const zone = $("drop-zone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      setFiles(e.dataTransfer.files);
    });
    $("file-input").addEventListener("change", (e) => setFiles(e.target.files));
    $("operation").addEventListener("change", (e) => selectOperation(e.target.value));
    $("job-form").addEventListener("submit", submit);
    $("refresh-recent").addEventListener("click", refreshRecent);
    $("clear-recent").addEventListener("click", () => saveRecent([]));
    drawRecent();
    try {
      const answer = await api("/api/extended-features/capabilities");
      state.operations = answer.body.data.operations;
    } catch (err) {
      showError($("load-error"), err);
      $("submit").disabled = true;
      return;
    }
    const select = $("operation");
    for (const op of state.operations) {
      const option = el("option", { value: op.name }, op.summary || humanName(op.name));
      option.disabled = op.available === false;
      select.append(option);
    }
    selectOperation(state.operations.length ? state.operations[0].name : "");
    document.body.dataset.ready = "true";
    refreshRecent();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
