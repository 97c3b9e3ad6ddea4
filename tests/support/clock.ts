/** A clock tests can move forward; hand `now` to the app (AppOptions.now). */
export function testClock(start = Date.now()) {
  let offset = 0;
  return {
    now: () => new Date(start + offset + (Date.now() - start)),
    advance(ms: number) {
      offset += ms;
    },
  };
}
