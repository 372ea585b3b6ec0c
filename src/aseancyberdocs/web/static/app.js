// Copy buttons: the only script of the app. Without it the citations stay plain, selectable text.
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Older browsers, or a page reached through a non-loopback http:// address.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => {
      copyText(button.dataset.copy).then(
        () => { button.textContent = "Copied"; button.classList.add("copied"); },
        () => { button.textContent = "Select and copy"; button.classList.add("failed"); }
      );
      setTimeout(() => { button.textContent = "Copy citation"; button.classList.remove("copied", "failed"); }, 2500);
    });
  }
});
