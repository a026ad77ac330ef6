export { AppError, type AppErrorOptions } from "./app-error.ts";
export { ERROR_CATALOGUE, type ErrorCode, isErrorCode } from "./codes.ts";
export {
	type ErrorBody,
	errorBody,
	type FailureLog,
	isClientAborted,
	logClientAborted,
	logFailure,
	registerErrorHandling,
	sendError,
	toAppError,
} from "./http.ts";
