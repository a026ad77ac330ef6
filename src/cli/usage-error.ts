/** A command line that cannot be carried out as written; the CLI prints its message and exits 2. */
export class UsageError extends Error {
	constructor(reason: string) {
		super(reason);
		this.name = "UsageError";
	}
}
