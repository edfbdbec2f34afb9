// Grids whose rows come from the server (AG Grid's infinite row model): when a control outside the grid
// changes what they hold (a search box, a set of tiers), their cached blocks are dropped and asked for anew.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    blastwall: {
        refreshGrid: function (...args) {
            const gridId = args[args.length - 1];
            window.dash_ag_grid.getApiAsync(gridId).then((api) => api.purgeInfiniteCache());
            return Date.now();
        },
        // Sets the store `storeId` once the user has been idle (no scroll, wheel, key or pointer) for
        // three seconds after this is first called; armed once per page.
        whenIdle: function (_trigger, storeId) {
            const ns = window.dash_clientside;
            if (window.blastwallIdleArmed) {
                return ns.no_update;
            }
            window.blastwallIdleArmed = true;
            const events = ["scroll", "wheel", "keydown", "pointerdown"];
            let timer = null;
            const fire = () => {
                events.forEach((e) => document.removeEventListener(e, arm, true));
                ns.set_props(storeId, { data: Date.now() });
            };
            const arm = () => {
                clearTimeout(timer);
                timer = setTimeout(fire, 3000);
            };
            events.forEach((e) => document.addEventListener(e, arm, true));
            arm();
            return ns.no_update;
        },
    },
});
