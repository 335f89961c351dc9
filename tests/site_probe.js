// Runs in each page of the site after its load event (tests/test_site.py); returns the DOM
// findings. %REPOSITORY_BUTTONS% is replaced by the CSS selector of the repository buttons.
async () => {
  const text = el => (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 200);
  const root = document.querySelector('article') || document.body;
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.filter(img => !img.complete).map(img => new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done);
    setTimeout(done, 10000);
  })));
  // Sphinx writes TeX into span.math / div.math; MathJax replaces it by an mjx-container.
  const formulas = Array.from(root.querySelectorAll('span.math, div.math'));
  const startup = window.MathJax && window.MathJax.startup;
  if (formulas.length && startup && startup.promise) {
    await Promise.race([startup.promise, new Promise(done => setTimeout(done, 20000))]);
  }
  const proseGlue = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style, textarea, .highlight')) continue;
    for (const needle of ['{glue', '[glue]'])
      if (node.nodeValue.includes(needle)) proseGlue.push(node.nodeValue.trim().slice(0, 200));
  }
  const described = img => {
    const alt = (img.getAttribute('alt') || '').trim();
    const caption = img.closest('figure') && img.closest('figure').querySelector('figcaption');
    return (caption && text(caption)) || (alt && !/(^|\/)[^\/\s]+\.(png|svg|jpe?g|gif)$/i.test(alt));
  };
  return {
    missingImages: imgs.filter(img => (img.currentSrc || img.src).startsWith(location.origin)
                                      && img.naturalWidth === 0).map(img => img.getAttribute('src')),
    undescribedImages: Array.from(root.querySelectorAll('img')).filter(img => !described(img))
                            .map(img => img.getAttribute('src')),
    // A table wider than the content column, or than the output box it sits in, is cut off
    // or scrolls sideways (a folded table measures 0 px and is not judged).
    wideTables: Array.from(root.querySelectorAll('table')).filter(t => {
      const box = t.getBoundingClientRect();
      if (box.width === 0) return false;
      if (box.right > root.getBoundingClientRect().right + 1) return true;
      for (let el = t.parentElement; el && el !== root; el = el.parentElement)
        if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
          return true;
      return false;
    }).map(t => `${Math.round(t.getBoundingClientRect().width)} px wide: `
                + text(t.querySelector('tr') || t).slice(0, 80)),
    // Printed floats with more than 6 significant digits in cell outputs (raw reprs).
    longFloats: Array.from(root.querySelectorAll('div.cell_output')).flatMap(out =>
        (out.innerText.match(/(?<![\w.:-])-?\d+\.\d+(?:e[-+]?\d+)?(?![\w.:])/gi) || [])
        .filter(n => n.split(/e/i)[0].replace(/[-.]/g, '').replace(/^0+/, '').length > 6)),
    pasted: Array.from(document.querySelectorAll('.pasted-text')).map(el => el.textContent),
    proseGlue,
    errorOutputs: Array.from(document.querySelectorAll('.output.traceback, .output.error, '
        + 'div.cell_output .traceback, .system-message, .problematic')).map(text),
    unresolvedRefs: Array.from(document.querySelectorAll('.xref.std-ref, .xref.std-numref, '
        + '.xref.std-doc, .xref.myst, .xref.std-term')).filter(el => !el.closest('a')).map(text),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    repositoryButtons: Array.from(document.querySelectorAll(%REPOSITORY_BUTTONS%)).map(a => a.href),
    notebookDownload: (document.querySelector('a.btn-download-notebook-button') || {}).href || null,
    formulas: formulas.length,
    mathjaxLoaded: Boolean(startup && startup.promise),
    unrenderedMath: formulas.filter(el => !el.querySelector('mjx-container')).map(text),
    // A TeX error renders as mjx-merror; an undefined macro shows its name in red.
    mathErrors: Array.from(root.querySelectorAll('mjx-merror'))
        .map(el => el.getAttribute('data-mjx-error') || 'TeX error')
        .concat(Array.from(root.querySelectorAll('mjx-container mjx-mtext[style*="color: red"]'))
        .map(el => 'undefined macro ' + text(el.closest('mjx-container')
          .querySelector('mjx-assistive-mml mtext[mathcolor="red"]') || el))),
    exercises: Array.from(root.querySelectorAll('div.exercise')).map(el => el.id),
    exerciseNumbers: Array.from(root.querySelectorAll('div.exercise .caption-number')).map(text),
    solutions: Array.from(root.querySelectorAll('div.solution')).map(el => {
      const body = el.querySelector('section') || el.lastElementChild;
      return {title: text(el.querySelector('.admonition-title') || el),
              // sphinx-togglebutton folds by visibility: hidden and zero height
              folded: Boolean(body) && (!body.checkVisibility({visibilityProperty: true})
                                        || body.getBoundingClientRect().height === 0),
              cells: el.querySelectorAll('.cell').length,
              outputs: el.querySelectorAll('.cell_output').length};
    }),
  };
}
