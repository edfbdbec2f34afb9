// Grids whose rows come from the server (AG Grid's infinite row model): when a control outside the grid
// changes what they hold (a search box, a set of tiers), their cached blocks are dropped and asked for anew.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    blastwall: {
        refreshGrid: function (...args) {
            const gridId = args[args.length - 1];
            window.dash_ag_grid.getApiAsync(gridId).then((api) => api.purgeInfiniteCache());
            return Date.now();
        },
    },
});
