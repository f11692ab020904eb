// Hotline console: actions first. The conversation opens at the first message that
// needs this operator; acknowledging (one or several), replying and approving happen
// in place (fetch, then the server-rendered fragment; the event stream brings the
// rest); "next unanswered"; keyboard shortcuts, listed on the page.
"use strict";

(function () {
  const body = document.body;
  const page = body.dataset.page;
  if (page !== "conversation" && page !== "search") return;
  const csrf = body.dataset.csrf || "";
  const linkName = body.dataset.linkName || "";

  const count = document.getElementById("needs-count");
  const onPageAtLoad = new Set(needing().map((a) => a.dataset.id)).size;
  const offPage = count ? Math.max(0, Number(count.dataset.total || 0) - onPageAtLoad) : 0;

  function articles() { return Array.from(document.querySelectorAll("article.msg")); }
  function needing() { return Array.from(document.querySelectorAll("article.msg[data-needs='1']")); }

  // The outcome, said in the status line (its words come translated in its data-*).
  function said(key, n) {
    const line = document.getElementById("action-status");
    const text = (line && line.dataset[key]) || "";
    return text.replace("{n}", String(n || 0));
  }

  function status(text, isError) {
    const line = document.getElementById("action-status");
    if (!line) { if (isError) window.alert(text); return; }
    line.textContent = text;
    line.classList.toggle("error", Boolean(isError));
  }

  // --- counting what needs action ---------------------------------------------------

  function recount() {
    keepFocus();
    const ids = new Set(needing().map((a) => a.dataset.id));
    const total = offPage + ids.size;
    if (count) {
      const text = total ? count.dataset.label.replace("{n}", String(total)) : count.dataset.none;
      if (count.dataset.total !== String(total)) count.dataset.total = String(total);
      if (count.textContent !== text) count.textContent = text;  // no change: no mutation
    }
    const next = document.getElementById("next-unanswered");
    if (next) next.disabled = total === 0;
    const picked = document.querySelectorAll("input.pick-box:checked").length;
    const shown = document.getElementById("picked-count");
    const label = picked ? "(" + picked + ")" : "";
    if (shown && shown.textContent !== label) shown.textContent = label;
  }
  new MutationObserver(recount).observe(document.querySelector("main"), { childList: true, subtree: true });
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.id === "pick-all") {
      document.querySelectorAll("input.pick-box").forEach((box) => { box.checked = target.checked; });
    }
    recount();
  });

  // --- moving through the messages -------------------------------------------------

  let current = null;
  function focusMessage(article, block) {
    if (!article) return;
    current = article;
    article.focus({ preventScroll: true });
    article.scrollIntoView({ block: block || "center" });
    articles().forEach((a) => a.classList.toggle("current", a === article));
  }
  document.addEventListener("focusin", (event) => {
    const article = event.target instanceof Element ? event.target.closest("article.msg") : null;
    if (article) { current = article; articles().forEach((a) => a.classList.toggle("current", a === article)); }
  });

  // A live update replaces a row with its new rendering: the focus stays on it.
  function keepFocus() {
    if (!current || current.isConnected) return;
    const replaced = document.getElementById("m-" + current.dataset.id);
    if (!replaced) return;
    const hadFocus = document.activeElement === document.body || document.activeElement === null;
    current = replaced;
    replaced.classList.add("current");
    if (hadFocus) replaced.focus({ preventScroll: true });
  }

  function currentMessage() {
    if (current && current.isConnected) return current;
    const id = current && current.dataset.id;
    return id ? document.getElementById("m-" + id) : null;
  }

  function step(list, delta) {
    if (list.length === 0) return null;
    const here = currentMessage();
    const all = articles();
    if (!here) return delta > 0 ? list[0] : list[list.length - 1];
    const position = all.indexOf(here);
    const ordered = delta > 0 ? list : list.slice().reverse();
    const found = ordered.find((a) => (all.indexOf(a) - position) * delta > 0);
    return found || (list === all ? null : ordered[0]);
  }

  function nextUnanswered() {
    const target = step(needing(), 1);
    if (target) { focusMessage(target); return; }
    if (count && Number(count.dataset.total || 0) > 0 && linkName) {
      window.location.href = "/links/" + encodeURIComponent(linkName) + "?show=action";
    }
  }
  const nextButton = document.getElementById("next-unanswered");
  if (nextButton) nextButton.addEventListener("click", nextUnanswered);

  // --- acting in place -------------------------------------------------------------

  function post(form, submitter) {
    const data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, accept: "application/json", "x-hotline-fetch": "1" },
      body: data,
    });
  }

  async function failed(response) {
    if (response.status === 401) { window.location.href = "/login?ended=1"; return; }
    const answer = await response.json().catch(() => ({}));
    status(answer.error || response.statusText, true);
  }

  async function fresh(messageId) {
    const response = await fetch("/messages/" + encodeURIComponent(messageId) + "/fragment", {
      headers: { accept: "text/html", "x-hotline-fetch": "1" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const article = template.content.querySelector("article.msg");
    const old = document.getElementById("m-" + messageId);
    if (article && old) {
      const wasCurrent = old === current;
      old.replaceWith(article);
      if (wasCurrent) current = article;
    }
  }

  async function acknowledge(form, submitter) {
    const article = form.closest("article.msg");
    const response = await post(form, submitter);
    if (!response.ok) { await failed(response); return; }
    window.dispatchEvent(new CustomEvent("hotline:acted"));
    if (article) {
      await fresh(article.dataset.id);
      status(said("acknowledged"), false);
      const next = step(needing(), 1);
      if (next) focusMessage(next, "nearest");
    }
  }

  async function acknowledgeMany(form, submitter) {
    if (!form.querySelector("input.pick-box:checked") && !document.querySelector("input.pick-box:checked")) return;
    const response = await post(form, submitter);
    if (!response.ok) { await failed(response); return; }
    const answer = await response.json();
    window.dispatchEvent(new CustomEvent("hotline:acted"));
    const done = answer.acknowledged || [];
    for (let i = 0; i < done.length; i += 8) await Promise.all(done.slice(i, i + 8).map(fresh));
    const pickAll = document.getElementById("pick-all");
    if (pickAll) pickAll.checked = false;
    status(said("acknowledgedMany", done.length), false);
    recount();
  }

  async function compose(form, submitter) {
    const response = await post(form, submitter);
    if (!response.ok) { await failed(response); return; }
    form.querySelector("textarea[name=text]").value = "";
    const ref = document.getElementById("compose-ref");
    const note = document.getElementById("compose-replying");
    const waitsForApproval = Boolean(ref && ref.value && note && note.querySelector(".hint"));
    if (ref) ref.value = "";
    if (note) note.hidden = true;
    const intent = submitter ? submitter.value : "send";
    status(said(intent === "draft" ? "saved" : waitsForApproval ? "approval" : "sent"), false);
  }

  async function decide(form, submitter) {
    const response = await post(form, submitter);
    if (!response.ok) { await failed(response); return; }
    window.dispatchEvent(new CustomEvent("hotline:acted"));
    const drafts = document.getElementById("drafts");
    if (!drafts || !linkName) return;
    const fragment = await fetch("/links/" + encodeURIComponent(linkName) + "/drafts/fragment", {
      headers: { accept: "text/html", "x-hotline-fetch": "1" }, credentials: "same-origin",
    });
    if (fragment.ok) {
      const template = document.createElement("template");
      template.innerHTML = (await fragment.text()).trim();
      drafts.replaceChildren(template.content);
    }
    status(said("done"), false);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    const submitter = event.submitter;
    let work = null;
    if (form.classList.contains("acknowledge")) work = acknowledge;
    else if (form.id === "bulk") work = acknowledgeMany;
    else if (form.id === "compose" && !form.querySelector("input[name=channel][value=emergency]:checked")) work = compose;
    else if (form.closest("#drafts")) work = decide;
    if (!work) return;
    event.preventDefault();
    if (submitter) submitter.disabled = true;
    work(form, submitter).finally(() => { if (submitter && submitter.isConnected) submitter.disabled = false; });
  });

  // Replies on rows replaced in place (the console wires the rows it renders itself).
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button.reply") : null;
    if (!button) return;
    const ref = document.getElementById("compose-ref");
    const note = document.getElementById("compose-replying");
    if (!ref || !note) return;
    ref.value = button.dataset.replyTo;
    note.querySelector("b").textContent = button.dataset.replyLabel;
    note.hidden = false;
    document.querySelector("#compose textarea").focus();
  });

  // --- keyboard shortcuts ----------------------------------------------------------

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const here = currentMessage();
    const actions = {
      n: nextUnanswered,
      j: () => focusMessage(step(articles(), 1) || here, "nearest"),
      k: () => focusMessage(step(articles(), -1) || here, "nearest"),
      a: () => { const form = here && here.querySelector("form.acknowledge"); if (form) form.requestSubmit(); },
      r: () => { const button = here && here.querySelector("button.reply"); if (button) button.click(); },
      x: () => { const box = here && here.querySelector("input.pick-box"); if (box) { box.checked = !box.checked; recount(); } },
      "/": () => { const field = document.getElementById("search-q"); if (field) field.focus(); },
      "?": () => { const list = document.getElementById("shortcuts"); if (list) list.open = !list.open; },
    };
    const act = actions[event.key];
    if (!act) return;
    event.preventDefault();
    act();
  });

  // --- open at the first message that needs this operator ----------------------------

  if (page === "conversation" && !window.location.hash) {
    const first = needing()[0];
    if (first) focusMessage(first, "center");
  }
  recount();
})();
