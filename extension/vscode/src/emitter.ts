// A minimal event emitter with vscode.Event's shape, for the modules that
// do not import vscode (the sidecar and the wire).

/** Subscribes a listener; the result's dispose() unsubscribes it. */
export type Event<T> = (listener: (e: T) => void) => { dispose(): void };

export class Emitter<T> {
	private readonly listeners = new Set<(e: T) => void>();

	readonly event: Event<T> = (listener) => {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	};

	fire(e: T): void {
		for (const l of [...this.listeners]) {
			try {
				l(e);
			} catch {
				// one listener's failure does not stop the others
			}
		}
	}
}
