// One script tag on any page of the clinic's site opens the aftercare chat:
//   <script src="https://<assistant host>/webhooks/web/widget.js" defer></script>
// It adds a button and, when pressed, the chat in an iframe served by the assistant itself.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(".", script.src);
  var button = document.createElement("button");
  button.type = "button";
  button.id = "aftercare-chat-button";
  button.textContent = "Questions after your ductogram? Chat with us";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "aftercare-chat-frame");
  var s = button.style;
  s.position = "fixed"; s.right = "1rem"; s.bottom = "1rem"; s.zIndex = "2147483000";
  s.padding = ".8rem 1.1rem"; s.fontSize = "1rem"; s.border = "0"; s.borderRadius = "2rem";
  s.background = "#0b3d5c"; s.color = "#fff"; s.cursor = "pointer"; s.boxShadow = "0 2px 8px rgba(0,0,0,.3)";
  var frame = document.createElement("iframe");
  frame.id = "aftercare-chat-frame";
  frame.title = "Aftercare chat assistant";
  frame.src = new URL("chat", base).toString();
  var f = frame.style;
  f.position = "fixed"; f.right = "1rem"; f.bottom = "4.5rem"; f.zIndex = "2147483000";
  f.width = "min(26rem, calc(100vw - 2rem))"; f.height = "min(38rem, calc(100vh - 6rem))";
  f.border = "1px solid #999"; f.borderRadius = ".6rem"; f.background = "#fff"; f.display = "none";
  button.addEventListener("click", function () {
    var open = frame.style.display === "none";
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { frame.focus(); }
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
}());
