// Hotline console: the "displayed" receipt, signed only for what a person saw.
//
// The rule (docs/protocol.md, "Human receipts"; docs/operators-guide.md §4): an
// incoming message is marked displayed when it has been on screen -- at least half
// of it, or half of the window's height for a long one -- in a visible tab of a
// focused window, continuously for DWELL_MS. Rendered but scrolled off, in a
// background tab, or in a window behind another: not displayed.
"use strict";

(function () {
  const body = document.body;
  if (body.dataset.canAck !== "1") return;
  const list = document.getElementById("messages");
  if (!list) return;
  const csrf = body.dataset.csrf || "";
  const DWELL_MS = 1000;
  const TICK_MS = 200;
  const onScreen = new Map();  // message id -> {element, since}
  const sent = new Set();

  function attentive() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  function seen(entry) {
    if (!entry.isIntersecting || !entry.rootBounds) return false;
    const tall = entry.intersectionRect.height >= entry.rootBounds.height / 2;
    return entry.intersectionRatio >= 0.5 || tall;
  }

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const element = entry.target;
      const id = element.dataset.id;
      if (seen(entry)) {
        const known = onScreen.get(id);
        if (!known || known.element !== element) onScreen.set(id, { element, since: null });
      } else if (onScreen.has(id) && onScreen.get(id).element === element) {
        onScreen.delete(id);
      }
    }
  }, { threshold: [0, 0.25, 0.5, 0.75, 1] });

  function watch(element) {
    if (!(element instanceof HTMLElement) || !element.matches("article.msg")) return;
    if (element.dataset.direction !== "in" || element.dataset.displayed !== "0") return;
    if (sent.has(element.dataset.id)) return;
    observer.observe(element);
  }

  function forget(element) {
    if (!(element instanceof HTMLElement) || !element.matches("article.msg")) return;
    observer.unobserve(element);
    const known = onScreen.get(element.dataset.id);
    if (known && known.element === element) onScreen.delete(element.dataset.id);
  }

  function mark(id) {
    sent.add(id);
    onScreen.delete(id);
    fetch("/messages/" + encodeURIComponent(id) + "/displayed", {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, accept: "application/json", "x-hotline-fetch": "1" },
      body: new FormData(),
    }).then((response) => { if (!response.ok) sent.delete(id); },
      () => { sent.delete(id); });
  }

  function tick() {
    const now = performance.now();
    const looking = attentive();
    for (const [id, state] of Array.from(onScreen)) {
      if (!looking || !state.element.isConnected) { state.since = null; continue; }
      if (state.since === null) state.since = now;
      else if (now - state.since >= DWELL_MS) mark(id);
    }
  }

  list.querySelectorAll("article.msg").forEach(watch);
  new MutationObserver((changes) => {
    for (const change of changes) {
      change.removedNodes.forEach(forget);
      change.addedNodes.forEach(watch);
    }
  }).observe(list, { childList: true });
  window.setInterval(tick, TICK_MS);
  window.hotlineDisplayed = { onScreen, sent };
})();
