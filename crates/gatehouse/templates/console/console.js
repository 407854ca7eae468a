// Gatehouse Dashboard: copy buttons. Everything works without this script.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.innerText.trim();
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  button.classList.add("copied");
  setTimeout(() => { button.textContent = label; button.classList.remove("copied"); }, 1500);
});

// Branding preview: the frame shows the real hosted sign-in page with the values being typed.
(() => {
  const frame = document.getElementById("brand-preview");
  if (!frame) return;
  const inputs = [...document.querySelectorAll("input[data-preview]")];
  let timer = null;
  const refresh = () => {
    const query = new URLSearchParams();
    for (const input of inputs) query.set(input.dataset.preview, input.value);
    frame.src = `${frame.dataset.previewBase}?${query}`;
  };
  for (const input of inputs) {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  }
})();
