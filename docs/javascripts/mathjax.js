// MathJax settings for the docs site: $...$ and \(...\) inline, $$...$$ and \[...\] displayed
// (the notebooks' markdown and pymdownx.arithmatex's output).
window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]], processEscapes: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex|jp-RenderedMarkdown|jp-MarkdownOutput"}
};
document$.subscribe(function () {
  if (window.MathJax && MathJax.typesetPromise) { MathJax.typesetPromise(); }
});
