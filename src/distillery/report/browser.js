// Walks a rendered Snakemake report the way a reader would: opens every category and
// subcategory, clicks each result's eye icon and records what the main panel then shows
// (an image and its MIME type and width, an embedded page, a table). The record is appended
// to the page as JSON in a hidden pre element (id distillery-report-walk) so that
// `chromium --dump-dom` returns it.
(async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const MENU = ["Workflow", "Statistics", "About", "Results"];
  const anchors = () => [...document.querySelectorAll("nav a")];
  const click = async (text) => {
    const anchor = anchors().find((a) => a.textContent.trim() === text);
    if (anchor) anchor.click();
    await sleep(150);
    return Boolean(anchor);
  };
  const menu = () =>
    [...document.querySelectorAll("nav div.p-3 ul li a")].map((a) => a.textContent.trim());
  const hasTable = () => Boolean(document.querySelector("nav div.p-3 table"));
  const main = () => document.querySelector("#app > div > nav ~ div");
  // what the main panel shows after a result's eye icon was clicked
  const shown = () => {
    const panel = main();
    const element = panel && panel.querySelector("img, iframe, embed, object, table, pre");
    if (!element) return { tag: null, text: panel ? panel.textContent.trim().slice(0, 200) : "" };
    const src = element.getAttribute("src") || element.getAttribute("data") || "";
    return {
      tag: element.tagName.toLowerCase(),
      mime: src.startsWith("data:") ? src.slice(5).split(/[;,]/)[0] : "",
      width: element.naturalWidth || element.clientWidth || 0,
      text: element.tagName === "IFRAME" ? "" : element.textContent.trim().slice(0, 200),
    };
  };
  const rows = async () => {
    const found = [];
    const trs = () => [...document.querySelectorAll("nav div.p-3 table tbody tr")];
    for (let i = 0; i < trs().length; i += 1) {
      const tr = trs()[i];
      const download = tr.querySelector("a[download]");
      const row = {
        labels: [...tr.querySelectorAll("td")].slice(0, -1).map((td) => td.textContent.trim()),
        download: download ? download.getAttribute("download") : null,
        view: null,
      };
      const eye = tr.querySelector("a[iconname='eye']");
      if (eye && !download) {
        eye.click();
        await sleep(400);
        row.view = shown();
      }
      found.push(row);
    }
    return found;
  };
  // the home crumb has no text; with few results the categories sit under "Results"
  const home = async () => {
    const crumb = document.querySelector("nav ol li a");
    if (crumb) crumb.click();
    await sleep(150);
    if (menu().includes("Results")) await click("Results");
  };
  const record = { title: document.title, categories: {}, error: null };
  try {
    await sleep(300);
    await home();
    const categories = menu().filter((item) => !MENU.includes(item));
    for (const category of categories) {
      await home();
      await click(category);
      record.categories[category] = {};
      if (hasTable()) {
        record.categories[category].Other = await rows();
        continue;
      }
      for (const sub of menu()) {
        await home();
        await click(category);
        await click(sub);
        record.categories[category][sub] = await rows();
      }
    }
  } catch (error) {
    record.error = String(error);
  }
  const pre = document.createElement("pre");
  pre.id = "distillery-report-walk";
  pre.style.display = "none";
  pre.textContent = JSON.stringify(record);
  document.body.appendChild(pre);
})();
