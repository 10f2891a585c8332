/**
 * Records which of Node's own fetch globals are touched while `work` runs. Touching any of them
 * loads undici (16 MiB of RSS in a fresh process), which the clouds' clients avoid.
 */
export async function fetchGlobalsTouched(work: () => Promise<void>): Promise<string[]> {
	const touched: string[] = [];
	const names = ['fetch', 'Headers', 'Request', 'Response', 'FormData'] as const;
	const saved = names.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
	for (const [name, descriptor] of saved) {
		Object.defineProperty(globalThis, name, {
			configurable: true,
			get() {
				touched.push(name);
				return descriptor?.get ? descriptor.get.call(globalThis) : descriptor?.value;
			},
		});
	}
	try {
		await work();
	} finally {
		for (const [name, descriptor] of saved) if (descriptor) Object.defineProperty(globalThis, name, descriptor);
	}
	return touched;
}
