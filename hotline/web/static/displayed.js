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
  // The conversation's live list, and the block of older messages still waiting.
  const lists = Array.from(document.querySelectorAll("#messages, #waiting"));
  if (!lists.length) return;
  const csrf = body.dataset.csrf || "";
  const DWELL_MS = 1000;
  const TICK_MS = 200;
  const onScreen = new Map();  // element -> since (null: not yet looked at)
  const sent = new Set();  // message ids (a message may be shown twice: waiting, and live)

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
      if (seen(entry)) {
        if (!onScreen.has(entry.target)) onScreen.set(entry.target, null);
      } else {
        onScreen.delete(entry.target);
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
    onScreen.delete(element);
  }

  function mark(id) {
    sent.add(id);
    for (const element of Array.from(onScreen.keys())) {
      if (element.dataset.id === id) forget(element);
    }
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
    for (const [element, since] of Array.from(onScreen)) {
      // Removed with its container (a refreshed block): no longer watched.
      if (!element.isConnected) { forget(element); continue; }
      if (!looking) { onScreen.set(element, null); continue; }
      if (since === null) onScreen.set(element, now);
      else if (now - since >= DWELL_MS && !sent.has(element.dataset.id)) mark(element.dataset.id);
    }
  }

  const changed = new MutationObserver((changes) => {
    for (const change of changes) {
      change.removedNodes.forEach(forget);
      change.addedNodes.forEach(watch);
    }
  });
  for (const list of lists) {
    list.querySelectorAll("article.msg").forEach(watch);
    changed.observe(list, { childList: true, subtree: true });
  }
  window.setInterval(tick, TICK_MS);
  window.hotlineDisplayed = { onScreen, sent };
})();
