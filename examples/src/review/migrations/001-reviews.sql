CREATE TABLE reviews (
  product_id INTEGER NOT NULL,
  review_id INTEGER NOT NULL,
  author TEXT NOT NULL,
  subject TEXT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (product_id, review_id)
);
