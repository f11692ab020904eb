// Hotline console: live updates from the node's event stream (Server-Sent Events).
// The stream carries only identifiers; every piece of content is fetched as an
// HTML fragment rendered (and escaped) by the server in the operator's language,
// so the page after a reload is the page these updates built.
"use strict";

(function () {
  const body = document.body;
  const csrf = body.dataset.csrf || "";
  const page = body.dataset.page;
  const linkId = body.dataset.linkId || "";
  const callId = body.dataset.callId || "";
  const canAcknowledge = body.dataset.canAck === "1";
  if (page === "login") return;

  // --- fragments ---------------------------------------------------------------

  async function fragment(url) {
    const response = await fetch(url, {
      headers: { accept: "text/html", "x-hotline-fetch": "1" },
      credentials: "same-origin",
    });
    if (response.status === 401) { loggedOut(); return null; }
    if (!response.ok) return null;
    return parse(await response.text());
  }

  function orderOf(element) {
    return [Number(element.dataset.created || 0), Number(element.dataset.seq || 0)];
  }

  function before(a, b) {
    const [ca, sa] = orderOf(a);
    const [cb, sb] = orderOf(b);
    return ca < cb || (ca === cb && sa < sb);
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  async function upsertMessage(messageId, isNew, html) {
    const list = document.getElementById("messages");
    if (!list || list.dataset.live !== "1") return;
    const existing = document.getElementById("m-" + messageId);
    if (!existing && !isNew) return;
    const content = html
      ? parse(html)
      : await fragment("/messages/" + encodeURIComponent(messageId) + "/fragment");
    const fresh = content && content.querySelector("article.msg");
    if (!fresh) return;
    const current = document.getElementById("m-" + messageId);
    if (current) {
      current.replaceWith(fresh);
    } else {
      const empty = list.querySelector(".empty");
      if (empty) empty.remove();
      const later = Array.from(list.querySelectorAll("article.msg")).find((m) => before(fresh, m));
      list.insertBefore(fresh, later || null);
      fresh.classList.add("arrived");
    }
    wireReplies(fresh);
    if (fresh.dataset.direction === "in" && fresh.dataset.displayed === "0") markDisplayed(fresh);
    window.dispatchEvent(new CustomEvent("hotline:message", { detail: { id: messageId } }));
  }

  // "Displayed" is recorded only when the message is on a visible screen.
  const notYetShown = new Set();
  function markDisplayed(article) {
    if (!canAcknowledge) return;
    if (document.visibilityState !== "visible") { notYetShown.add(article.dataset.id); return; }
    post("/messages/" + encodeURIComponent(article.dataset.id) + "/displayed");
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    for (const id of notYetShown) post("/messages/" + encodeURIComponent(id) + "/displayed");
    notYetShown.clear();
  });

  function post(url, form) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, accept: "application/json", "x-hotline-fetch": "1" },
      body: form || new FormData(),
    }).then((response) => { if (response.status === 401) loggedOut(); return response; });
  }

  // The session ended (time limit, revoked, user disabled): say so on the login page
  // rather than leave a console that looks live but no longer is.
  function loggedOut() { window.location.href = "/login?ended=1"; }

  async function refresh(elementId, url) {
    const target = document.getElementById(elementId);
    if (!target) return;
    const content = await fragment(url);
    if (content) target.replaceChildren(content);
  }

  async function refreshCalls() {
    await refresh("callbar", "/fragments/calls");
    alarm.update();
  }

  // --- the ring: a flashing banner and a repeating tone until someone answers ----

  const alarm = {
    timer: null,
    audio: null,
    beeps: 0,
    update() {
      // Incoming calls, and incoming emergencies nobody has acknowledged yet.
      const ringing = document.querySelectorAll("#callbar [data-ringing-in], #callbar [data-emergency-in]");
      const banner = document.getElementById("alarm");
      if (!banner) return;
      if (ringing.length === 0) { this.stop(banner); return; }
      const first = ringing[0];
      document.getElementById("alarm-title").textContent =
        first.dataset.emergencyIn ? banner.dataset.emergency : banner.dataset.call;
      document.getElementById("alarm-text").textContent =
        first.querySelector(".what") ? first.querySelector(".what").textContent : "";
      banner.hidden = false;
      body.classList.add("ringing");
      body.dataset.alarm = "on";
      if (!this.timer) { this.beep(); this.timer = window.setInterval(() => this.beep(), 1500); }
    },
    stop(banner) {
      banner.hidden = true;
      body.classList.remove("ringing");
      body.dataset.alarm = "off";
      if (this.timer) { window.clearInterval(this.timer); this.timer = null; }
    },
    beep() {
      try {
        this.audio = this.audio || new (window.AudioContext || window.webkitAudioContext)();
        const button = document.getElementById("sound-on");
        if (this.audio.state === "suspended") {
          if (button) button.hidden = false;  // browsers need one click before sound
          this.audio.resume();
          return;
        }
        if (button) button.hidden = true;
        const now = this.audio.currentTime;
        for (const [offset, pitch] of [[0, 880], [0.25, 660]]) {
          const tone = this.audio.createOscillator();
          const gain = this.audio.createGain();
          tone.frequency.value = pitch;
          gain.gain.setValueAtTime(0.2, now + offset);
          gain.gain.exponentialRampToValueAtTime(0.001, now + offset + 0.22);
          tone.connect(gain).connect(this.audio.destination);
          tone.start(now + offset);
          tone.stop(now + offset + 0.23);
        }
        this.beeps += 1;
        body.dataset.beeps = String(this.beeps);
      } catch (error) {
        body.dataset.soundError = String(error);
      }
    },
  };
  const soundButton = document.getElementById("sound-on");
  if (soundButton) soundButton.addEventListener("click", () => { if (alarm.audio) alarm.audio.resume(); });

  // --- replies -------------------------------------------------------------------

  function wireReplies(root) {
    root.querySelectorAll("button.reply").forEach((button) => {
      button.addEventListener("click", () => {
        const ref = document.getElementById("compose-ref");
        const note = document.getElementById("compose-replying");
        if (!ref || !note) return;
        ref.value = button.dataset.replyTo;
        note.querySelector("b").textContent = button.dataset.replyLabel;
        note.hidden = false;
        document.querySelector("#compose textarea").focus();
      });
    });
  }
  wireReplies(document);
  const unreply = document.getElementById("compose-unreply");
  if (unreply) unreply.addEventListener("click", () => {
    document.getElementById("compose-ref").value = "";
    document.getElementById("compose-replying").hidden = true;
  });

  // Forms in the call bar come back to the page they were used on.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    form.querySelectorAll("input[data-here]").forEach((input) => {
      input.value = window.location.pathname + window.location.search;
    });
  }, true);

  // Session text goes without reloading the page; the stream brings it back.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.fetch !== "1") return;
    event.preventDefault();
    const data = new FormData(form);
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    const response = await post(form.action, data);
    if (response.ok) {
      const input = form.querySelector("input[name=text]");
      if (input) input.value = "";
    } else {
      const answer = await response.json().catch(() => ({}));
      window.alert(answer.error || response.statusText);
    }
  });

  // --- the stream ------------------------------------------------------------------

  const live = document.getElementById("live");
  function setLive(on) {
    if (!live) return;
    live.dataset.state = on ? "on" : "off";
    const label = live.querySelector("b");
    label.textContent = on ? label.dataset.on : label.dataset.off;
  }

  let boardPending = false;
  function refreshBoardSoon() {
    if (page !== "board" || boardPending) return;
    boardPending = true;
    window.setTimeout(() => { boardPending = false; refresh("board", "/fragments/board"); }, 250);
  }

  // A draft being edited is not replaced under the operator's hands: the list is
  // brought up to date when the edit is closed (saving reloads the page anyway).
  let draftsPending = false;
  function refreshDrafts() {
    if (document.querySelector("#drafts details.edit[open]")) { draftsPending = true; return; }
    draftsPending = false;
    refresh("drafts", "/links/" + encodeURIComponent(body.dataset.linkName) + "/drafts/fragment");
  }
  document.addEventListener("toggle", (event) => {
    if (draftsPending && event.target instanceof HTMLDetailsElement && !event.target.open) refreshDrafts();
  }, true);

  // The translator's queue: not replaced while a correction is being typed.
  let queuePending = false;
  function refreshQueue() {
    const editing = document.activeElement && document.activeElement.closest("#translation-queue textarea");
    if (editing) { queuePending = true; return; }
    queuePending = false;
    refresh("translation-queue", "/fragments/translations");
  }
  document.addEventListener("focusout", () => { if (queuePending) window.setTimeout(refreshQueue, 0); });

  function handle(note) {
    const type = note.type || "";
    const here = linkId && note.link === linkId;
    if (type === "message.received" || type === "message.queued") {
      if (here && page === "conversation") upsertMessage(note.id, true, note.html);
      refreshBoardSoon();
    } else if (type === "message.ladder" || type === "message.displayed" || type === "message.acknowledged") {
      if (here && page === "conversation") upsertMessage(note.id, false, note.html);
      refreshBoardSoon();
    } else if (type.startsWith("call.")) {
      refreshCalls();
      if (callId && note.id === callId) refresh("session", "/calls/" + encodeURIComponent(callId) + "/fragment");
      refreshBoardSoon();
    } else if (/^(emergency|alert|link_test|escalation)\./.test(type)) {
      refreshCalls();
      refreshBoardSoon();
    } else if (type === "session.text") {
      if (callId && note.call === callId) refresh("session", "/calls/" + encodeURIComponent(callId) + "/fragment");
    } else if (type === "translation.updated") {
      // The badge beside the original changes live: machine draft, verified, disputed.
      if (here && page === "conversation") upsertMessage(note.id, false, null);
      if (page === "translations") refreshQueue();
    } else if (type === "draft.updated") {
      if (here && page === "conversation") refreshDrafts();
    } else {
      refreshBoardSoon();
    }
  }

  // Resume from the moment the server rendered this page: nothing in between is missed.
  const after = body.dataset.eventsAfter || "";
  const query = new URLSearchParams();
  if (after) query.set("after", after);
  if (page === "conversation" && linkId) query.set("link", linkId);
  let stream = null;
  let lastEventId = "";
  function connect() {
    if (lastEventId) query.set("after", lastEventId);
    stream = new EventSource("/console/events?" + query.toString());
    stream.onopen = () => { setLive(true); refreshCalls(); };
    stream.onerror = () => {
      setLive(false);
      // The browser retries by itself after a network error; after a refusal (the
      // session ended) it gives up: find out which, then log in or reconnect.
      if (stream.readyState === EventSource.CLOSED) {
        window.setTimeout(async () => { await refreshCalls(); connect(); }, 3000);
      }
    };
    stream.onmessage = (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      try { handle(JSON.parse(event.data)); } catch (error) { console.error(error); }
    };
    stream.addEventListener("logout", () => { stream.close(); loggedOut(); });
  }
  connect();

  alarm.update();
  // Waiting times in the attention bar move on even when nothing else happens.
  window.setInterval(refreshCalls, 30000);
  // Messages the server rendered before the page became visible.
  if (page === "conversation") {
    document.querySelectorAll("article.msg[data-direction=in][data-displayed='0']").forEach(markDisplayed);
  }
  window.hotline = { alarm, stream: () => stream };
})();
