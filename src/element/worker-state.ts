// The worker's life as <cnn-fixations> reports it: the Engine (worker-client.ts) and its events turned into the
// element's status (loading / ready / failed, with a message for people), info and workerStatus. A reactive
// controller: it writes these to the host, which reports them (statechange); it stops the worker with the host.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { FrameResult, InitInfo, LoadProgress, WorkerStatus } from '../worker/api.ts';
import { Engine, type EngineEvent, type EngineOptions } from './worker-client.ts';
import type { FrameLoop } from './frame-loop.ts';

export type EngineState = 'loading' | 'ready' | 'failed';

export interface WorkerHost extends ReactiveControllerHost {
  status: EngineState;
  message: string;
  failure?: 'load' | 'run';
  info?: InitInfo;
  workerStatus?: WorkerStatus;
  result?: FrameResult;
  progress?: LoadProgress | { step: 'first' };
  readonly loop: FrameLoop;
  /** Where the worker's overlay canvas goes (laid over the picture). */
  mount(canvas: HTMLCanvasElement): void;
  layout(): void;
  problem(message: string): void;
}

export class WorkerState implements ReactiveController {
  readonly engine: Engine;
  private started = false;

  constructor(private readonly host: WorkerHost) {
    this.engine = new Engine(
      (c) => host.mount(c),
      (e) => this.onEngine(e),
    );
    host.addController(this);
  }

  hostDisconnected() {
    this.engine.stop();
    this.started = false;
  }

  /** Whether the worker must be started (first update, or again after the host was moved in the page). */
  get needsStart() {
    return !this.started;
  }

  start(opts: EngineOptions) {
    this.started = true;
    return this.engine.start(opts);
  }

  private onEngine(e: EngineEvent) {
    const h = this.host;
    switch (e.type) {
      case 'loading':
        h.status = 'loading';
        h.message = 'Loading the model…';
        h.failure = undefined;
        h.info = undefined;
        h.result = undefined;
        h.progress = { step: 'model', loaded: 0, total: 0 };
        break;
      case 'progress':
        h.progress = e.progress;
        break;
      case 'ready':
        h.status = 'ready';
        h.message = '';
        h.workerStatus = undefined;
        h.info = e.info;
        h.progress = { step: 'first' };
        h.layout();
        h.loop.invalidate();
        break;
      case 'status': {
        const recovered = h.workerStatus?.state === 'recovering' && e.status.state === 'ready';
        h.workerStatus = e.status.state === 'ready' || e.status.state === 'idle' ? undefined : e.status;
        if (recovered) h.loop.invalidate(); // a still picture whose frame was lost is explained again
        break;
      }
      case 'restarting':
        h.status = 'loading';
        h.progress = { step: 'model', loaded: 0, total: 0 };
        h.message = `The explain worker stopped (${e.reason}); restarting it…`;
        break;
      case 'failed':
        if (e.during === 'init') {
          h.progress = undefined;
          h.status = 'failed';
          h.failure = 'load';
          h.message = `The model could not be loaded: ${e.message}`;
        } else if (!this.engine.ready) {
          h.status = 'failed';
          h.failure = 'run';
          h.workerStatus = undefined;
          h.message = e.message;
        } else {
          h.problem(`Explaining this frame failed: ${e.message}`);
        }
        break;
    }
  }
}
