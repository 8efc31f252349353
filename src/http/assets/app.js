// boomgate status page: live updates over /ws/events, relay "open" with the API token.
"use strict";
(function () {
  const body = document.body;
  const protectReads = body.dataset.protectReads === "true";
  // Set once per page load: a test (or a curious operator) can tell a live update from a reload.
  window.boomgatePageLoadedAt = Date.now();
  let liveEvents = 0;

  function token(ask) {
    let t = sessionStorage.getItem("boomgate-token");
    if ((!t || ask) && ask !== false) {
      t = window.prompt("API token (http.token_file)") || "";
      sessionStorage.setItem("boomgate-token", t);
    }
    return t || "";
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function setLink(text, ok) {
    const l = document.getElementById("link");
    l.textContent = text;
    l.className = "pill " + (ok ? "ok" : "bad");
  }

  function addEvent(ev) {
    const rows = document.getElementById("event-rows");
    const tr = el("tr");
    tr.dataset.event = ev.event_id;
    tr.className = "new";
    const crop = el("td");
    if (ev.crop_url && !protectReads) {
      const img = el("img", "crop");
      img.alt = "";
      img.src = ev.crop_url;
      crop.appendChild(img);
    }
    tr.appendChild(crop);
    tr.appendChild(el("td", "plate", ev.plate));
    tr.appendChild(el("td", "", Math.round(ev.confidence * 100) + " %"));
    const d = el("td", "decision " + ev.decision.action, ev.decision.action + " ");
    d.appendChild(el("span", "small", ev.decision.reason));
    tr.appendChild(d);
    tr.appendChild(el("td", "", ev.camera));
    tr.appendChild(el("td", "small", ev.captured_at));
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > 50) rows.removeChild(rows.lastChild);
    liveEvents += 1;
    body.dataset.liveEvents = String(liveEvents);
  }

  function ms(v) {
    return typeof v === "number" ? v.toFixed(1) + " ms" : "–";
  }

  function applyStatus(s) {
    for (const c of s.cameras || []) {
      const card = document.querySelector('article.camera[data-camera="' + CSS.escape(c.id) + '"]');
      if (!card) continue;
      card.querySelector(".fps").textContent = c.fps;
      if (c.decoder) card.querySelector(".decoder").textContent = c.decoder;
    }
    document.getElementById("lat-detect").textContent = ms(s.latency_ms.detect);
    document.getElementById("lat-ocr").textContent = ms(s.latency_ms.ocr);
    document.getElementById("lat-decision").textContent = ms(s.latency_ms.frame_to_decision);
    document.getElementById("mqtt").textContent = s.mqtt.enabled ? (s.mqtt.connected ? "connected" : "disconnected") : "off";
    document.getElementById("outbox").textContent = String(s.outbox.depth);
    document.getElementById("disk").textContent =
      (s.disk.used_bytes / 1e6).toFixed(1) + " MB used · " + (s.disk.free_bytes / 1e9).toFixed(1) + " GB free · keep " + s.disk.retention_days + " days";
  }

  function setState(selector, state) {
    const s = document.querySelector(selector + " .state");
    if (s) {
      s.textContent = state;
      s.className = "state " + state;
    }
  }

  // `detection` arrives at the decision, `event_stored` once the event and its images are on
  // disk: the second fills in the crop (or adds the row if the first was missed).
  function onStored(ev) {
    const row = document.querySelector('#event-rows tr[data-event="' + CSS.escape(ev.event_id) + '"]');
    if (!row) {
      addEvent(ev);
      return;
    }
    const cell = row.firstChild;
    if (ev.crop_url && !protectReads && !cell.querySelector("img")) {
      const img = el("img", "crop");
      img.alt = "";
      img.src = ev.crop_url;
      cell.appendChild(img);
    }
  }

  function onMessage(m) {
    if (m.type === "detection") addEvent(m.event);
    else if (m.type === "event_stored") onStored(m.event);
    else if (m.type === "relay") setState('article.relay[data-relay="' + CSS.escape(m.relay) + '"]', m.state);
    else if (m.type === "camera_state") {
      setState('article.camera[data-camera="' + CSS.escape(m.camera) + '"]', m.state);
      const card = document.querySelector('article.camera[data-camera="' + CSS.escape(m.camera) + '"]');
      if (card && m.detail && m.detail.decoder) card.querySelector(".decoder").textContent = m.detail.decoder;
    } else if (m.type === "metrics") applyStatus(m.status);
  }

  let retry = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    let url = proto + location.host + "/ws/events";
    if (protectReads) url += "?access_token=" + encodeURIComponent(token(false));
    const ws = new WebSocket(url);
    ws.onopen = function () {
      retry = 500;
      setLink("live", true);
    };
    ws.onmessage = function (e) {
      try {
        onMessage(JSON.parse(e.data));
      } catch (err) {
        console.warn("bad live message", err);
      }
    };
    ws.onclose = function () {
      setLink("reconnecting…", false);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function refreshFrames() {
    if (protectReads || document.hidden) return;
    for (const img of document.querySelectorAll("img.frame")) {
      const base = (img.getAttribute("src") || img.dataset.src || "").split("?")[0];
      img.src = base + "?t=" + Date.now();
    }
  }

  async function openRelay(button) {
    const id = button.dataset.relay;
    let t = token(false) || token(true);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await fetch("/api/relay/" + encodeURIComponent(id) + "/open", { method: "POST", headers: { Authorization: "Bearer " + t } });
      if (r.status === 401 && attempt === 0) {
        t = token(true);
        continue;
      }
      const j = await r.json().catch(function () { return {}; });
      button.title = r.ok ? "opened" : j.error || "failed (" + r.status + ")";
      button.classList.toggle("failed", !r.ok);
      return;
    }
  }

  document.addEventListener("click", function (e) {
    const b = e.target.closest("button.open");
    if (b) openRelay(b);
  });
  connect();
  setInterval(refreshFrames, 2000);
})();
