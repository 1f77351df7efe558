/** The one plural rule both languages need here: 1 is singular, everything else plural. */
export const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);
