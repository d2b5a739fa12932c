// The room page's client: joins the room's websocket, shows history and live messages, sends.
"use strict";
(function () {
  const root = document.getElementById("chat");
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const form = document.getElementById("send");
  const input = document.getElementById("text");
  const ws = new WebSocket(root.dataset.wsUrl);

  // Messages are kept in id order, once each: history and live messages may overlap on join.
  function show(message) {
    if (list.querySelector(`li[data-id="${message.id}"]`)) return;
    const item = document.createElement("li");
    item.dataset.id = String(message.id);
    const user = document.createElement("span");
    user.className = "user";
    user.textContent = message.user;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    const time = document.createElement("time");
    time.dateTime = message.created;
    time.textContent = new Date(message.created).toLocaleTimeString();
    item.append(user, text, time);
    const later = Array.from(list.children).find((li) => Number(li.dataset.id) > message.id);
    list.insertBefore(item, later || null);
    list.scrollTop = list.scrollHeight;
  }

  ws.addEventListener("open", () => { status.textContent = "Connected."; });
  ws.addEventListener("close", (event) => {
    status.textContent = `Disconnected (${event.code}${event.reason ? ": " + event.reason : ""}).`;
  });
  ws.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "history") {
      data.messages.forEach(show);
      root.dataset.joined = "true";
    }
    else if (data.type === "message") show(data.message);
    else if (data.type === "error") status.textContent = data.error;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (ws.readyState !== WebSocket.OPEN || !input.value.trim()) return;
    ws.send(JSON.stringify({ text: input.value }));
    input.value = "";
  });
})();
