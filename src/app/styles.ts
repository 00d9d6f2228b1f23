import { css } from 'lit';

export const appStyles = css`
  :host {
    --bg: #0e1118;
    --panel: #161b25;
    --line: #2a3140;
    --fg: #e8ecf3;
    --muted: #a3adbf;
    --accent: #ff7a45;
    --warn: #ffcf5c;
    --bad: #ff8080;
    display: flex;
    flex-direction: column;
    min-height: 100dvh;
    background: var(--bg);
    color: var(--fg);
    font:
      15px/1.45 system-ui,
      -apple-system,
      'Segoe UI',
      Roboto,
      sans-serif;
  }
  [hidden] {
    display: none !important;
  }
  button,
  select,
  input {
    font: inherit;
    color: inherit;
  }
  a {
    color: var(--accent);
  } /* the browser's default blue is too dark on this background (axe colour-contrast) */
  button {
    background: #232a38;
    border: 1px solid var(--line);
    border-radius: 8px;
    padding: 0.4em 0.8em;
    cursor: pointer;
  }
  button:hover:not(:disabled) {
    border-color: var(--muted);
  }
  button:disabled {
    opacity: 0.5;
    cursor: default;
  }
  button.accent {
    background: var(--accent);
    border-color: var(--accent);
    color: #1a0d05;
    font-weight: 600;
  }
  button.big {
    font-size: 1.1em;
    padding: 0.7em 1.2em;
  }
  :focus-visible {
    outline: 3px solid #7fb2ff;
    outline-offset: 2px;
  }
  select,
  input[type='search'],
  input[type='url'] {
    background: #0b0e14;
    border: 1px solid var(--line);
    border-radius: 6px;
    padding: 0.35em 0.5em;
    width: 100%;
    box-sizing: border-box;
  }
  h1 {
    font-size: 1.1rem;
    margin: 0;
    font-weight: 650;
    letter-spacing: 0.01em;
  }
  h1 .sub {
    color: var(--accent);
    font-weight: 500;
  }
  h2 {
    font-size: 0.8rem;
    text-transform: uppercase;
    letter-spacing: 0.08em;
    color: var(--muted);
    margin: 0 0 0.5em;
  }
  .muted {
    color: var(--muted);
    margin: 0.2em 0;
  }

  .bar {
    display: flex;
    align-items: center;
    justify-content: space-between;
    gap: 1em;
    padding: 0.5em 1em;
    border-bottom: 1px solid var(--line);
  }
  .bar-actions {
    display: flex;
    gap: 0.5em;
    align-items: center;
  }

  /* How it runs: a chip in the bar that opens a small panel (never over the picture unless asked for). */
  .status {
    position: relative;
  }
  .chip-info {
    border-radius: 999px;
    padding: 0.2em 0.8em;
    font-size: 0.85em;
    background: #1d2431;
    color: var(--muted);
  }
  .chip-info.slow {
    color: var(--warn);
  }
  .info-panel {
    position: absolute;
    right: 0;
    top: calc(100% + 0.4em);
    z-index: 10;
    width: min(26em, 90vw);
    background: var(--panel);
    border: 1px solid var(--line);
    border-radius: 8px;
    padding: 0.6em 0.9em;
    box-shadow: 0 6px 24px rgb(0 0 0 / 0.5);
    font-size: 0.9em;
  }
  .info-panel p {
    margin: 0.4em 0;
  }

  .layout {
    flex: 1;
    display: grid;
    grid-template-columns: minmax(0, 1fr) 340px;
    min-height: 0;
  }
  .stage {
    position: relative;
    background: #000;
    overflow: hidden;
    min-height: 300px;
    height: calc(100dvh - 3.2em);
  }
  /* <cnn-fixations> (picture, worker, overlay) fills the stage; captions and notices lie over it. */
  .stage cnn-fixations {
    position: absolute;
    inset: 0;
    width: 100%;
    height: 100%;
    aspect-ratio: auto;
  }
  .stage.dragging {
    outline: 3px dashed var(--accent);
    outline-offset: -6px;
  }
  .drop-hint {
    position: absolute;
    inset: 0;
    display: grid;
    place-items: center;
    background: rgb(0 0 0 / 0.55);
    font-size: 1.3em;
    text-align: center;
    padding: 1em;
  }

  .start {
    position: absolute;
    inset: 0;
    display: flex;
    flex-direction: column;
    align-items: center;
    justify-content: center;
    gap: 0.8em;
    padding: 1.5em;
    text-align: center;
    background: radial-gradient(circle at 50% 40%, #1d2533, #0b0e14 70%);
  }
  .start .lead {
    font-size: 1.3em;
    margin: 0;
    max-width: 28em;
  }
  .start .hint {
    color: var(--muted);
    margin: 0;
  }
  .row {
    display: flex;
    gap: 0.5em;
    align-items: center;
  }
  .row.wrap {
    flex-wrap: wrap;
  }
  .problem {
    color: var(--bad);
    max-width: 34em;
    margin: 0.3em 0;
  }
  .note {
    margin: 0.3em 0;
  }
  .note.warn {
    color: var(--warn);
  }

  /*
   * Two lines of fixed height: the label (the class's name and probability, never cut) and, smaller, what the overlay
   * shows (cut with an ellipsis where it must be). The loading state takes the label's place: nothing moves when it
   * comes.
   */
  .caption {
    position: absolute;
    left: 0;
    right: 0;
    bottom: 0;
    padding: 0 1em 0.3em;
    height: 4.4em;
    box-sizing: border-box;
    display: flex;
    flex-direction: column;
    justify-content: flex-end;
    overflow: hidden;
    background: linear-gradient(transparent, rgb(0 0 0 / 0.6) 35%, rgb(0 0 0 / 0.8));
    pointer-events: none;
  }
  .caption-label {
    display: flex;
    align-items: baseline;
    gap: 0.6em;
    white-space: nowrap;
    min-width: 0;
  }
  .caption-label > * {
    flex: none;
  }
  .caption .top1 {
    display: flex;
    align-items: baseline;
    font-size: 1.6em;
    font-weight: 650;
    text-shadow: 0 1px 3px #000;
    flex: 0 1 auto;
    min-width: 0;
    overflow: hidden;
  }
  .caption .top1 .name {
    flex: none;
  }
  .caption .top1 .syn {
    flex: 0 1 auto;
    min-width: 0;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: pre;
  }
  .caption-notes {
    height: 1.35em;
    line-height: 1.35em;
    font-size: 0.9em;
    color: var(--muted);
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
    text-shadow: 0 1px 2px #000;
  }
  .caption-notes > * + * {
    margin-left: 0.8em;
  }
  .caption .top1:empty {
    display: none;
  }
  .caption cnnfix-loading {
    display: contents;
  }
  .loading {
    display: flex;
    align-items: center;
    gap: 0.8em;
    flex: 1;
    min-width: 0;
  }
  .loading-text {
    flex: none;
    text-shadow: 0 1px 3px #000;
  }
  .loading-bar {
    flex: 1;
    max-width: 14em;
    height: 0.4em;
    border-radius: 999px;
    background: rgb(255 255 255 / 0.2);
    overflow: hidden;
  }
  .loading-bar > span {
    display: block;
    height: 100%;
    background: var(--accent);
    transition: width 0.2s;
  }
  .loading-bar.ongoing > span {
    width: 35% !important;
    animation: ongoing 1.4s ease-in-out infinite;
  }
  @keyframes ongoing {
    from {
      transform: translateX(-100%);
    }
    to {
      transform: translateX(290%);
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .loading-bar.ongoing > span {
      animation: none;
      width: 100% !important;
      opacity: 0.5;
    }
  }
  .caption .syn {
    font-size: 0.55em;
    font-weight: 400;
    color: #c3cad6;
  }
  .notices {
    position: absolute;
    top: 0;
    left: 0;
    right: 0;
    padding: 0 1em;
    background: rgb(0 0 0 / 0.7);
  }
  .notices:not(:has(*)) {
    background: none;
    padding: 0;
  }
  .notices .problem {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    gap: 0.3em 0.8em;
  }
  .notices .problem p {
    margin: 0.4em 0;
    flex-basis: 100%;
  }
  .caption .prob {
    font-size: 1.1em;
    color: #d5dbe5;
    text-shadow: 0 1px 3px #000;
  }
  .caption .swatch {
    display: inline-block;
    width: 0.7em;
    height: 0.7em;
    border-radius: 50%;
    background: var(--c);
    margin-right: 0.25em;
  }
  .badge {
    background: var(--warn);
    color: #000;
    border-radius: 4px;
    padding: 0 0.4em;
    font-size: 0.85em;
  }

  .panel {
    background: var(--panel);
    border-left: 1px solid var(--line);
    padding: 0.8em 1em 2em;
    overflow-y: auto;
    height: calc(100dvh - 3.2em);
    box-sizing: border-box;
    display: flex;
    flex-direction: column;
    gap: 1.1em;
  }
  /* The controls render into this shadow root (control.ts): their hosts take no box of their own. */
  .panel > :not(input) {
    display: contents;
  }
  .panel .actions {
    display: grid;
    grid-template-columns: repeat(2, minmax(0, 1fr));
    gap: 0.4em;
  }
  .actions button {
    min-height: 44px;
    padding: 0.3em 0.4em;
  }
  .check {
    display: flex;
    align-items: center;
    gap: 0.4em;
    cursor: pointer;
  }
  .panel section {
    display: flex;
    flex-direction: column;
    gap: 0.45em;
  }
  .field {
    display: flex;
    flex-direction: column;
    gap: 0.2em;
    color: var(--muted);
    font-size: 0.9em;
  }
  .field .val {
    color: var(--fg);
  }
  .checks,
  .seg {
    display: flex;
    flex-wrap: wrap;
    gap: 0.3em 1em;
  }
  .checks label,
  .seg label {
    display: flex;
    align-items: center;
    gap: 0.3em;
    cursor: pointer;
  }
  input[type='range'] {
    width: 100%;
    accent-color: var(--accent);
  }
  input[type='checkbox'],
  input[type='radio'] {
    accent-color: var(--accent);
    width: 1.05em;
    height: 1.05em;
  }

  .top5 {
    list-style: none;
    margin: 0;
    padding: 0;
    display: flex;
    flex-direction: column;
    gap: 0.25em;
  }
  .top-row {
    position: relative;
    width: 100%;
    display: flex;
    justify-content: space-between;
    gap: 0.5em;
    text-align: left;
    overflow: hidden;
    background: #0b0e14;
  }
  .top-row[aria-pressed='true'] {
    border-color: var(--accent);
  }
  .top-row .bar-fill {
    position: absolute;
    left: 0;
    top: 0;
    bottom: 0;
    background: rgb(255 122 69 / 0.25);
  }
  .top-row .label,
  .top-row .pct {
    position: relative;
  }
  .top-row .pct {
    color: var(--muted);
    font-variant-numeric: tabular-nums;
  }

  .chips {
    list-style: none;
    margin: 0;
    padding: 0;
    display: flex;
    flex-wrap: wrap;
    gap: 0.3em;
  }
  .chip {
    display: flex;
    align-items: center;
    gap: 0.35em;
    border: 1px solid var(--c);
    border-radius: 999px;
    padding: 0.1em 0.2em 0.1em 0.6em;
  }
  .chip .swatch {
    width: 0.8em;
    height: 0.8em;
    border-radius: 50%;
    background: var(--c);
  }
  .chip .x {
    border: 0;
    background: none;
    padding: 0 0.4em;
  }
  .hits {
    list-style: none;
    margin: 0;
    padding: 0;
    display: flex;
    flex-direction: column;
    gap: 0.2em;
  }
  .hits button {
    width: 100%;
    text-align: left;
  }
  .layer-readout {
    margin: 0;
    font-variant-numeric: tabular-nums;
    word-break: break-all;
  }
  .perf {
    display: grid;
    grid-template-columns: auto 1fr;
    gap: 0.1em 1em;
    margin: 0;
    font-size: 0.9em;
    font-variant-numeric: tabular-nums;
  }
  .perf dt {
    color: var(--muted);
  }
  .perf dd {
    margin: 0;
  }
  details summary {
    cursor: pointer;
    color: var(--muted);
  }
  .own {
    display: flex;
    flex-direction: column;
    gap: 0.4em;
    margin: 0.5em 0;
  }

  .toast {
    position: fixed;
    left: 50%;
    bottom: 1.2em;
    transform: translateX(-50%);
    max-width: 90vw;
    background: #2b3446;
    border-radius: 8px;
    padding: 0.5em 1em;
    box-shadow: 0 4px 20px rgb(0 0 0 / 0.5);
  }
  .toast:empty {
    display: none;
  }

  /*
   * Phones held upright and narrow windows: the picture on top, the top 5 under it, the main actions in a bar at the
   * bottom of the screen (within a thumb's reach), the other controls below when scrolled to.
   */
  @media (max-width: 820px) and (orientation: portrait) {
    .bar {
      padding: 0.35em 0.8em;
    }
    .layout {
      grid-template-columns: 1fr;
    }
    .stage {
      height: auto;
      aspect-ratio: var(--ar, 4 / 3);
      max-height: 46dvh;
      min-height: 200px;
    }
    .panel {
      height: auto;
      border-left: 0;
      border-top: 1px solid var(--line);
      padding-bottom: 6em;
      gap: 0.9em;
    }
    .caption .top1 {
      font-size: 1.3em;
    }
    .caption .top1 .syn {
      display: none;
    }
    /* The title, then the chip (and "Install app") on a second row when they do not fit beside it. */
    .bar {
      flex-wrap: wrap;
      row-gap: 0.3em;
    }
    .bar h1 {
      white-space: nowrap;
    }
    .bar h1 .sub {
      display: none;
    }
    .bar-actions {
      margin-left: auto;
    }
    .bar-actions button {
      white-space: nowrap;
    }
    .chip-info {
      font-size: 0.8em;
    }
    .panel .actions {
      grid-template-columns: repeat(4, minmax(0, 1fr));
      position: fixed;
      left: 0;
      right: 0;
      bottom: 0;
      z-index: 5;
      background: var(--panel);
      border-top: 1px solid var(--line);
      padding: 0.5em 0.6em calc(0.5em + env(safe-area-inset-bottom));
    }
    .actions button {
      min-height: 48px;
    }
    .top-row {
      padding-block: 0.35em;
    }
  }
  /* Phones on their side: the panel at the side, a slim bar, the picture as tall as the screen allows. */
  @media (orientation: landscape) and (max-height: 560px) {
    .bar {
      padding: 0.2em 0.8em;
    }
    .bar h1 {
      font-size: 0.95rem;
    }
    /* The screen's height exactly: the bar takes what it needs, the picture and the panel share the rest. */
    :host {
      height: 100dvh;
    }
    .layout {
      grid-template-columns: minmax(0, 1fr) min(340px, 42vw);
      grid-template-rows: minmax(0, 1fr);
    }
    .stage,
    .panel {
      height: 100%;
      min-height: 0;
    }
    .panel {
      padding: 0.6em 0.8em 1em;
    }
  }

  /* Exhibit mode: the picture fills the screen, large type, one legend line. */
  :host(.kiosk) {
    font-size: clamp(18px, 2.4vw, 32px);
    height: 100dvh;
  }
  :host(.kiosk) .layout {
    display: flex;
    flex: 1;
    min-height: 0;
  }
  :host(.kiosk) .stage {
    flex: 1;
    height: auto;
    max-height: none;
    aspect-ratio: auto;
  }
  /* For visitors the label alone: which box the overlay draws is for the panel's readers. */
  :host(.kiosk) .caption {
    padding: 0.6em 1em 0.8em;
    height: 5em;
  }
  :host(.kiosk) .caption-notes {
    display: none;
  }
  :host(.kiosk) .caption .top1 {
    font-size: 2.4em;
  }
  /* Read from 2 m on a 1920 x 1080 stand: about 32 px type (letters about 8 mm high on a 24-inch screen). */
  .legend {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    justify-content: center;
    gap: 0.3em 1.5em;
    padding: 0.5em 1em;
    font-size: clamp(16px, 1.7vw, 40px);
    border-top: 1px solid var(--line);
  }
  .legend .caveat {
    color: #c9d1de;
  }
  .legend > span {
    white-space: nowrap;
  }
  .legend .caveat {
    font-style: italic;
  }
  .ramp {
    display: inline-block;
    width: 4em;
    height: 0.7em;
    border-radius: 3px;
    vertical-align: middle;
  }
  .ramp.turbo {
    background: linear-gradient(90deg, #30123b, #4686fb, #1ae4b6, #a2fc3c, #fabb39, #e4460a, #7a0403);
  }
  .ramp.jet {
    background: linear-gradient(90deg, #00007f, #0000ff, #00ffff, #ffff00, #ff0000, #7f0000);
  }
  .ramp.viridis {
    background: linear-gradient(90deg, #440154, #3b528b, #21918c, #5ec962, #fde725);
  }
  .dot {
    display: inline-block;
    width: 0.5em;
    height: 0.5em;
    background: var(--c);
    vertical-align: middle;
  }
  .boxmark {
    display: inline-block;
    width: 0.9em;
    height: 0.7em;
    border: 2px solid var(--c);
    vertical-align: middle;
  }
  .attract {
    position: absolute;
    inset: 0;
    display: flex;
    flex-direction: column;
    align-items: center;
    justify-content: center;
    text-align: center;
    padding: 2em;
    background: rgb(8 10 16 / 0.8);
    animation: breathe 4s ease-in-out infinite;
  }
  .attract p {
    max-width: 24em;
    margin: 0.3em;
  }
  .attract-title {
    font-size: 2.2em;
    font-weight: 700;
    color: var(--accent);
  }
  .attract .attract-small {
    color: #c3cad6;
    font-size: 0.9em;
  }
  .kiosk-settings {
    position: fixed;
    inset: 5vh 5vw;
    z-index: 20;
    display: flex;
    flex-direction: column;
    gap: 0.5em;
    background: var(--panel);
    border: 1px solid var(--line);
    border-radius: 12px;
    padding: 1em;
    font-size: 18px;
    box-shadow: 0 10px 40px rgb(0 0 0 / 0.6);
  }
  .kiosk-settings .row {
    justify-content: space-between;
  }
  .kiosk-settings .panel {
    height: auto;
    flex: 1;
    min-height: 0;
    border: 0;
    padding: 0;
  }
  @keyframes breathe {
    50% {
      background: rgb(8 10 16 / 0.65);
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .attract {
      animation: none;
    }
  }
`;
