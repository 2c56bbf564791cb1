/* The chat toolbar page (templates/workspace/toolbar.html).
   - data-copy-text on a button: copy that text for pasting into the chat;
   - without a chat in the URL, ask WeCom's JS-SDK which chat the page is beside
     (wx.agentConfig with the server's signature, then getContext and
     getCurExternalChat / getCurExternalContact) and reload with it. */
(function () {
  "use strict";

  function showCopied() {
    var toast = document.getElementById("copied-toast");
    if (toast && window.bootstrap) {
      window.bootstrap.Toast.getOrCreateInstance(toast, { delay: 1500 }).show();
    }
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(showCopied);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); showCopied(); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-text]");
    if (button) {
      copyText(button.getAttribute("data-copy-text"));
    }
  });

  var configNode = document.getElementById("wecom-agent-config");
  var status = document.getElementById("toolbar-context");
  if (!configNode || !status) {
    return;
  }
  function giveUp(message) {
    status.textContent = message || status.getAttribute("data-fallback");
    status.removeAttribute("data-waiting");
  }
  if (!window.wx || !window.wx.agentConfig) {
    giveUp();
    return;
  }
  var config = JSON.parse(configNode.textContent);
  window.wx.agentConfig({
    corpid: config.corpid,
    agentid: config.agentid,
    timestamp: config.timestamp,
    nonceStr: config.nonceStr,
    signature: config.signature,
    jsApiList: ["getContext", "getCurExternalChat", "getCurExternalContact"],
    success: function () {
      window.wx.invoke("getContext", {}, function (context) {
        var entry = context && context.entry;
        if (entry === "group_chat_tools") {
          window.wx.invoke("getCurExternalChat", {}, function (res) {
            if (res && res.chatId) { window.location.search = "?chat_id=" + encodeURIComponent(res.chatId); } else { giveUp(); }
          });
        } else if (entry === "single_chat_tools") {
          window.wx.invoke("getCurExternalContact", {}, function (res) {
            if (res && res.userId) { window.location.search = "?external_userid=" + encodeURIComponent(res.userId); } else { giveUp(); }
          });
        } else {
          giveUp();
        }
      });
    },
    fail: function () { giveUp(); }
  });
})();
