// Hotline console: what waits, where a person looks when the page is not in front.
// The tab's title and icon count what waits (ringing, emergencies, unanswered,
// replies and activations to approve, missed calls), and -- with the operator's
// permission -- a desktop notification announces each new call, emergency,
// approval and missed call. Everything is read from the call bar the server
// renders (#waiting and the attention items), after every refresh of it.
"use strict";

(function () {
  const body = document.body;
  if (!body.dataset.csrf) return;  // nobody signed in
  const baseTitle = document.title;
  const favicon = document.getElementById("favicon");
  const KINDS = ["ringing", "emergencies", "unanswered", "approvals", "missed"];
  const NOTIFIED_KEY = "hotline.notified";

  function counts() {
    const source = document.getElementById("waiting");
    if (!source) return null;
    const found = { total: Number(source.dataset.total || 0) };
    for (const kind of KINDS) found[kind] = Number(source.dataset[kind] || 0);
    return { found, source };
  }

  function title(found, source) {
    if (!found.total) return baseTitle;
    const label = (kind) => source.dataset["label" + kind[0].toUpperCase() + kind.slice(1)];
    const parts = KINDS.filter((kind) => found[kind]).map((kind) => found[kind] + " " + label(kind));
    return "(" + found.total + ") " + parts.join(" · ") + " — " + baseTitle;
  }

  // The icon is drawn here, from nothing but a canvas: no file, no network.
  function icon(found) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    const pen = canvas.getContext("2d");
    if (!pen) return "";
    const urgent = found.ringing || found.emergencies;
    pen.fillStyle = urgent ? "#b3261e" : found.total ? "#8a4f00" : "#14263a";
    pen.beginPath();
    pen.arc(32, 32, 31, 0, 2 * Math.PI);
    pen.fill();
    pen.fillStyle = "#ffffff";
    pen.textAlign = "center";
    pen.textBaseline = "middle";
    pen.font = "bold " + (found.total > 99 ? 26 : 38) + "px sans-serif";
    pen.fillText(found.total ? (found.total > 999 ? "999+" : String(found.total)) : "H", 32, 35);
    return canvas.toDataURL("image/png");
  }

  // --- desktop notifications -----------------------------------------------------

  function supported() { return "Notification" in window; }

  function alreadyNotified() {
    try { return new Set(JSON.parse(window.localStorage.getItem(NOTIFIED_KEY) || "[]")); }
    catch (error) { return new Set(); }
  }

  function remember(keys) {
    const kept = Array.from(keys).slice(-500);
    try { window.localStorage.setItem(NOTIFIED_KEY, JSON.stringify(kept)); } catch (error) { /* private mode */ }
  }

  function items() {
    const found = [];
    const add = (selector, key, kind) => document.querySelectorAll(selector).forEach((element) => {
      const what = element.querySelector(".what");
      found.push({ key: kind + ":" + element.dataset[key], kind, text: what ? what.textContent.trim() : "",
                   link: element.dataset.link || "" });
    });
    add("#callbar [data-ringing-in]", "call", "call");
    add("#callbar [data-emergency-in]", "emergencyIn", "emergency");
    add("#callbar [data-activation]", "activation", "approval");
    add("#callbar [data-reply-approval]", "replyApproval", "approval");
    add("#callbar [data-missed-call]", "missedCall", "missed");
    return found;
  }

  function notify() {
    if (!supported() || Notification.permission !== "granted") return;
    // In front of the person already: the page itself rings and shows it.
    if (document.visibilityState === "visible" && document.hasFocus()) return;
    const notified = alreadyNotified();
    let changed = false;
    for (const item of items()) {
      if (notified.has(item.key)) continue;
      notified.add(item.key);
      changed = true;
      const heading = body.dataset["notify" + item.kind[0].toUpperCase() + item.kind.slice(1)];
      try {
        const note = new Notification(heading, {
          body: item.text, tag: item.key, requireInteraction: item.kind !== "missed",
        });
        note.onclick = () => {
          window.focus();
          if (item.link && item.kind !== "call") window.location.href = "/links/" + encodeURIComponent(item.link);
        };
      } catch (error) {
        body.dataset.notifyError = String(error);
      }
    }
    if (changed) remember(notified);
    body.dataset.notified = String(notified.size);
  }

  const button = document.getElementById("notify-on");
  function offer() {
    if (button) button.hidden = !supported() || Notification.permission !== "default";
  }
  if (button) button.addEventListener("click", async () => {
    await Notification.requestPermission();
    offer();
    update();
  });

  function update() {
    const read = counts();
    if (!read) return;
    document.title = title(read.found, read.source);
    const drawn = icon(read.found);
    if (favicon && drawn) favicon.href = drawn;
    body.dataset.waitingTotal = String(read.found.total);
    notify();
  }

  offer();
  update();
  window.addEventListener("hotline:callbar", update);
  document.addEventListener("visibilitychange", update);
  window.addEventListener("blur", update);
})();
