import tarfile
from pathlib import Path

import pytest

from tooling.sim.catalog import VENDURE, fetch, parse_vendure_csv

CSV = """name,slug,description,assets,facets,optionGroups,optionValues,sku,price,taxCategory,stockOnHand,trackInventory,variantAssets,variantFacets
Laptop ,laptop ,"Fast, light.",a.jpg,category:Electronics|category:Computers|brand:Apple,screen size|RAM,13 inch|8GB,L1,1299.00,standard,100,,,
,,,,,,15 inch|16GB,L2,2299.00,standard,100,,,
Sneakers,sneakers,Classic.,b.jpg,category:Footwear|color:black,size:shoe-size,Size 40,S1,65.00,standard,100,,,
Chair,chair,Sit.,c.jpg,category:Furniture,color,mustard,C1,100.00,standard,100,,,color:yellow
"""


def test_parse_rows_variants_facets():
    items = parse_vendure_csv(CSV)
    assert [i.slug for i in items] == ["laptop", "sneakers", "chair"]
    laptop = items[0]
    assert laptop.name == "Laptop" and laptop.brand == "Apple"
    assert laptop.categories == ["Electronics", "Computers"]
    assert [v.options for v in laptop.variants] == [
        {"screen size": "13 inch", "RAM": "8GB"}, {"screen size": "15 inch", "RAM": "16GB"}]
    assert laptop.variants[1].price == 2299.0
    assert items[1].facets == {"color": ["black"]}
    assert items[1].variants[0].options == {"size": "Size 40"}
    assert items[2].variants[0].facets == {"color": "yellow"}


def test_fetch_rejects_a_tarball_with_another_digest(tmp_path: Path):
    bogus = tmp_path / VENDURE.tarball_name
    with tarfile.open(bogus, "w:gz"):
        pass
    with pytest.raises(RuntimeError, match="sha256"):
        fetch(tmp_path / "home", "vendure", tarball=bogus)


def test_unknown_source():
    with pytest.raises(ValueError, match="unknown catalog source"):
        fetch(Path("/nonexistent"), "nope")
