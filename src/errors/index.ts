export { AppError, type AppErrorOptions } from "./app-error.ts";
export { ERROR_CATALOGUE, type ErrorCode, isErrorCode } from "./codes.ts";
export { type ErrorBody, errorBody, registerErrorHandling, sendError } from "./http.ts";
