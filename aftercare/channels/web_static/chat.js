// The web chat: keeps the server-issued conversation for this visit (sessionStorage), sends messages,
// shows dispositions unmistakably, and never hangs silently. Text is always set with textContent.
(function () {
  "use strict";
  var KEY = "aftercare-chat";
  var SLOW_MS = 3000, TIMEOUT_MS = 30000;
  var log = document.getElementById("log");
  var statusBox = document.getElementById("status");
  var quick = document.getElementById("quick");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var conversation = null;
  var LOCAL_PROMPTS = {
    "I have a symptom": "Please tell me what you notice, for example your temperature, any discharge, redness, swelling or pain, and when your ductogram was.",
    "Aftercare questions": "Ask me about your aftercare, for example: Can I take Tylenol? Is more discharge normal? When will I get my results?"
  };
  var SEND_AS = { "Preparing for my test": "How do I prepare for my ductogram?" };

  function scroll() { log.scrollTop = log.scrollHeight; }
  function add(who, text) {
    var li = document.createElement("li");
    li.className = "msg " + who;
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = who === "patient" ? "You said: " : "Assistant: ";
    li.appendChild(label);
    li.appendChild(document.createTextNode(text));
    log.appendChild(li);
    scroll();
    return li;
  }
  function disposition(custom) {
    if (!custom || !custom.disposition) { return; }
    var li = document.createElement("li");
    if (custom.disposition === "emergency") {
      li.className = "banner emergency";
      li.setAttribute("role", "alert");
      var strong = document.createElement("strong");
      strong.textContent = "Call 911 now. ";
      li.appendChild(strong);
      li.appendChild(document.createTextNode(custom.reason ? "(" + custom.reason + ") " : ""));
      li.appendChild(document.createElement("br"));
      var call = document.createElement("a");
      call.href = "tel:911";
      call.textContent = "Call 911";
      li.appendChild(call);
    } else if (custom.disposition === "call_physician") {
      li.className = "banner call";
      li.setAttribute("role", "alert");
      var head = document.createElement("strong");
      head.textContent = "Call your physician today. ";
      li.appendChild(head);
      li.appendChild(document.createTextNode(custom.reason ? "Why: " + custom.reason : ""));
    } else {
      return;
    }
    log.appendChild(li);
    scroll();
  }
  function render(messages) {
    messages.forEach(function (m) {
      if (m.text) { add(m.from === "patient" ? "patient" : "assistant", m.text); }
      if (m.custom) { disposition(m.custom); }
    });
  }
  function post(path, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      signal: controller.signal, credentials: "same-origin"
    }).then(function (r) {
      clearTimeout(timer);
      return r.json().then(function (data) { return { status: r.status, data: data }; });
    }, function (e) { clearTimeout(timer); throw e; });
  }
  function showQuick(replies) {
    quick.replaceChildren();
    (replies || []).forEach(function (text) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.addEventListener("click", function () {
        quick.replaceChildren();
        add("patient", text);
        if (LOCAL_PROMPTS[text]) { add("assistant", LOCAL_PROMPTS[text]); input.focus(); return; }
        send(SEND_AS[text] || text, true);
      });
      quick.appendChild(b);
    });
  }
  function unreachable(retry) {
    var li = add("error", "Could not reach the assistant. If this is an emergency, call 911. ");
    var call = document.createElement("a");
    call.href = "tel:911";
    call.textContent = "Call 911";
    li.appendChild(call);
    if (retry) {
      var again = document.createElement("button");
      again.type = "button";
      again.className = "retry";
      again.textContent = "Try again";
      again.addEventListener("click", function () { li.remove(); retry(); });
      li.appendChild(document.createTextNode(" "));
      li.appendChild(again);
    }
  }
  function newConversation() {
    sessionStorage.removeItem(KEY);
    return post("session", {}).then(function (r) {
      if (r.status !== 200) { throw new Error("session " + r.status); }
      conversation = { conversation_id: r.data.conversation_id, token: r.data.token };
      sessionStorage.setItem(KEY, JSON.stringify(conversation));
      render(r.data.messages.map(function (m) { return { from: "assistant", text: m.text }; }));
      showQuick(r.data.quick_replies);
    });
  }
  function resume(saved) {
    return post("history", saved).then(function (r) {
      if (r.status === 403) { return newConversation(); }
      if (r.status !== 200) { throw new Error("history " + r.status); }
      conversation = saved;
      render(r.data.messages);
    });
  }
  function send(text, alreadyShown) {
    if (!alreadyShown) { add("patient", text); }
    if (!conversation) { unreachable(function () { start().then(function () { send(text, true); }); }); return; }
    var slow = setTimeout(function () { statusBox.textContent = "Still working on your answer…"; }, SLOW_MS);
    statusBox.textContent = "";
    post("message", { conversation_id: conversation.conversation_id, token: conversation.token, message: text })
      .then(function (r) {
        clearTimeout(slow);
        statusBox.textContent = "";
        if (r.status === 403) { add("error", "This conversation has ended. Starting a new one."); return newConversation(); }
        if (r.status !== 200) { add("error", (r.data && r.data.error) || "Something went wrong."); return; }
        r.data.messages.forEach(function (m) {
          if (m.text) { add("assistant", m.text); }
          if (m.custom) { disposition(m.custom); }
        });
      })
      .catch(function () {
        clearTimeout(slow);
        statusBox.textContent = "";
        unreachable(function () { send(text, true); });
      });
  }
  function start() {
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { saved = null; }
    return (saved && saved.conversation_id ? resume(saved) : newConversation())
      .catch(function () { unreachable(function () { log.replaceChildren(); start(); }); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    quick.replaceChildren();
    send(text, false);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  start();
}());
