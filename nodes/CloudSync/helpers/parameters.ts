import type { IExecuteFunctions, IGetNodeParameterOptions, IPollFunctions, NodeParameterValueType } from 'n8n-workflow';

export type NodeContext = IExecuteFunctions | IPollFunctions;

/** Reads a parameter for one item; polling triggers have no items, so their signature has no index. */
export function parameter<T = NodeParameterValueType>(
	context: NodeContext,
	name: string,
	itemIndex: number,
	fallback?: unknown,
	options?: IGetNodeParameterOptions,
): T {
	if ('getInputData' in context) return context.getNodeParameter(name, itemIndex, fallback, options) as T;
	return (context as IPollFunctions).getNodeParameter(name, fallback, options) as T;
}
