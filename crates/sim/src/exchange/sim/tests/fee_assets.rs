//! Fees as Binance charges them: in the asset a fill brings in, or in BNB while it lasts.

use super::*;

fn bnb() -> Asset {
    Asset::new(fees::BNB).unwrap()
}

#[test]
// rule: balances_match
fn a_buy_pays_its_fee_in_base_and_a_sell_in_quote() {
    let mut x = venue(VenueConfig::default(), "1000", "0", "1");
    let o = x.place(0, &buy("fb", "0.01", "50100", Tif::Ioc)).unwrap();
    // 0.01 at the ask 50005: 500.05 USDT out, 0.01 BTC in less 0.00001 BTC of fee.
    assert_eq!((o.fee, o.fee_asset.clone()), (d("0.00001"), btc()));
    assert_eq!(x.funds(&usdt()).total(), d("499.95"));
    assert_eq!(x.funds(&btc()).total(), d("0.00999"));
    // Selling the whole fill is refused, as Binance does (-2010); the held amount sells.
    let all = sell("fs", "0.01", "49000", Tif::Ioc);
    assert_eq!(rejected_with(x.place(1, &all)).0, -2010);
    let o = x
        .place(2, &sell("fs2", "0.00999", "49000", Tif::Ioc))
        .unwrap();
    // 0.00999 at the bid 49995 = 499.45005; fee 0.49945005 USDT.
    assert_eq!((o.fee, o.fee_asset.clone()), (d("0.49945005"), usdt()));
    assert_eq!(x.funds(&btc()).total(), d("0"));
    assert_eq!(
        x.funds(&usdt()).total(),
        d("499.95") + d("499.45005") - d("0.49945005")
    );
}

#[test]
// rule: balances_match
fn bnb_pays_the_discounted_fee_until_it_runs_out_then_the_received_asset_pays() {
    let cfg = VenueConfig {
        fees: fees::FeeSettings {
            mode: fees::FeeMode::Bnb,
            bnb_price: d("500"),
        },
        ..VenueConfig::default()
    };
    let mut x = venue(cfg, "10000", "0", "0.01");
    // Enough BNB for the first level's fee only: 500.05 * 0.001 * 0.75 / 500 = 0.00075008
    // (0.000750075 rounded half up).
    x.deposit(&bnb(), d("0.0008"));
    let o = x.place(0, &buy("b", "0.02", "50020", Tif::Ioc)).unwrap();
    let trades = x.fetch_trades(1, &btc_usdt(), &o.order_id).unwrap();
    let fees: Vec<_> = trades
        .iter()
        .map(|t| (t.fee_asset.as_str(), t.fee))
        .collect();
    // The second level's fee (0.00075015 BNB) does not fit the 0.00004992 left: BTC pays.
    assert_eq!(fees, [("BNB", d("0.00075008")), ("BTC", d("0.00001"))]);
    assert_eq!(x.funds(&bnb()).total(), d("0.00004992"));
    assert_eq!(x.funds(&btc()).total(), d("0.01999"));
    // The order's fee is in its first fill's asset.
    assert_eq!((o.fee, o.fee_asset.as_str()), (d("0.00075008"), "BNB"));
    // A sell with no BNB left pays in USDT.
    let o = x.place(2, &sell("s", "0.01", "49000", Tif::Ioc)).unwrap();
    assert_eq!(o.fee_asset, usdt());
}
