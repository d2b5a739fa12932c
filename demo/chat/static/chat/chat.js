// The room page's client: joins the room's websocket, shows history and live messages, sends.
//
// It shows the connection's state on #status (and as data-state on #chat, for tests and CSS):
// connecting, connected, reconnecting (with a countdown) and disconnected. Dropped connections
// (server restart, network) are retried with exponential backoff and jitter; closes that
// retrying cannot fix (4001: this user logged out; 4404: no such room) are final and disable
// the form. Server messages: {"type": "history" | "message" | "ack" | "error" | "presence", ...}.
//
// Nothing typed is lost: each message gets a client id and waits in an outbox until the
// server's ack (stored and published); after a reconnect the outbox is sent again (the server
// stores a client id once). The page tracks the room's message numbers (seq) and reconnects
// with ?after=<seq>, the highest number up to which it has every message, so it also gets what
// was posted while it was away. The protocol is in docs/tutorial.md and demo/chat/sockets.py.
"use strict";
(function () {
  const root = document.getElementById("chat");
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const form = document.getElementById("send");
  const input = document.getElementById("text");
  const button = form.querySelector("button");
  const online = document.getElementById("online");
  const onlineUsers = document.getElementById("online-users");
  const me = root.dataset.user;
  const FINAL = { 4001: "You are logged out (in this tab or another).", 4404: "This room does not exist." };
  const MAX_DELAY = 30;
  let ws = null;
  let attempt = 0;
  let countdown = null;
  const outbox = new Map(); // client id -> text, until acknowledged
  const seqs = new Set(); // message numbers seen above `cursor`
  let cursor = null; // every message up to this number has been seen (null: none yet)
  let presenceVersion = 0;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  function seen(seq) {
    if (cursor === null || seq > cursor) seqs.add(seq);
    advance();
  }

  function advance() {
    if (cursor === null) return;
    seqs.forEach((seq) => { if (seq <= cursor) seqs.delete(seq); });
    while (seqs.has(cursor + 1)) { cursor += 1; seqs.delete(cursor); }
  }

  function setState(state, text, link) {
    root.dataset.state = state;
    status.textContent = text;
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      status.append(" ", a);
    }
    const usable = state === "connected";
    input.disabled = !usable;
    button.disabled = !usable;
  }

  // Messages are kept in id order, once each: history and live messages overlap on (re)join.
  function show(message) {
    seen(message.seq);
    if (list.querySelector(`li[data-id="${message.id}"]`)) return;
    const item = document.createElement("li");
    item.dataset.id = String(message.id);
    if (message.user === me) item.classList.add("own");
    const meta = document.createElement("div");
    meta.className = "meta";
    const user = document.createElement("span");
    user.className = "user";
    user.textContent = message.user;
    const time = document.createElement("time");
    time.dateTime = message.created;
    time.textContent = new Date(message.created).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.append(user, time);
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = message.text;
    item.append(meta, text);
    item.dataset.seq = String(message.seq);
    const later = Array.from(list.children).find((li) => Number(li.dataset.seq) > message.seq);
    list.insertBefore(item, later || null);
    if (!later) list.scrollTop = list.scrollHeight;
  }

  function showPresence(users, version) {
    if (version < presenceVersion) return; // an older list that arrived late
    presenceVersion = version;
    onlineUsers.replaceChildren(...users.map((name) => {
      const item = document.createElement("li");
      item.textContent = name === me ? `${name} (you)` : name;
      return item;
    }));
    online.hidden = false;
  }

  function loggedOut() {
    const whoami = document.getElementById("whoami");
    if (whoami) whoami.closest("form").remove();
    online.hidden = true;
    setState("disconnected", FINAL[4001], { href: root.dataset.loginUrl, text: "Log in again" });
  }

  function connect() {
    clearInterval(countdown);
    setState(attempt ? "reconnecting" : "connecting", attempt ? "Reconnecting…" : "Connecting…");
    let opened = false;
    const url = cursor === null ? root.dataset.wsUrl : `${root.dataset.wsUrl}?after=${cursor}`;
    const socket = ws = new WebSocket(url);
    ws.addEventListener("open", () => { opened = true; });
    ws.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "history") {
        data.messages.forEach(show);
        if (cursor === null) { // the first join: the history holds everything up to its last
          const last = data.messages[data.messages.length - 1];
          cursor = last ? last.seq : 0;
          advance();
        }
        attempt = 0;
        setState("connected", "Connected");
        root.dataset.joined = "true";
        root.dataset.worker = String(data.worker);
        outbox.forEach((text, id) => socket.send(JSON.stringify({ text, id })));
        input.focus();
      } else if (data.type === "message") show(data.message);
      else if (data.type === "ack") { outbox.delete(data.id); show(data.message); }
      else if (data.type === "presence") showPresence(data.users, data.version);
      else if (data.type === "error") {
        if (data.id) outbox.delete(data.id); // refused: sending it again would not help
        status.textContent = data.error;
      }
      root.dataset.pending = String(outbox.size);
    });
    ws.addEventListener("close", (event) => {
      ws = null;
      if (event.code === 4001) return loggedOut();
      if (FINAL[event.code]) return setState("disconnected", FINAL[event.code]);
      if (!opened) return checkSession();
      retry();
    });
  }

  // A refused handshake looks like any network error (1006) to a browser: ask a page whether
  // the session is still valid before retrying, so a logged-out tab says so instead of looping.
  function checkSession() {
    fetch(root.dataset.checkUrl, { credentials: "same-origin" })
      .then((response) => (response.status === 403 ? loggedOut() : retry()))
      .catch(retry);
  }

  function retry() {
    const delay = Math.min(MAX_DELAY, 2 ** attempt) * (0.75 + Math.random() / 2);
    attempt += 1;
    let left = Math.ceil(delay);
    const tick = () => setState("reconnecting", `Reconnecting in ${left} s…`);
    tick();
    countdown = setInterval(() => { left -= 1; if (left > 0) tick(); }, 1000);
    setTimeout(connect, delay * 1000);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!ws || ws.readyState !== WebSocket.OPEN || !input.value.trim()) return;
    const id = newId();
    outbox.set(id, input.value);
    root.dataset.pending = String(outbox.size);
    ws.send(JSON.stringify({ text: input.value, id }));
    input.value = "";
  });
  connect();
})();
